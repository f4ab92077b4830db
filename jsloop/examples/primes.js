// Counts the primes below a limit (args[0], default 100000) in parallel:
// the range is cut into chunks, and each chunk is counted by the module
// primes_worker.js in a JavaScript runtime of its own, on a worker, while
// this loop stays free. Run: go run ./jsloop/cmd/velajs jsloop/examples/primes.js
const limit = Number(args[0] || 100000);
const chunks = Number(args[1] || 4);

async function main() {
	const started = Date.now();
	const step = Math.ceil(limit / chunks);
	const parts = [];
	for (let lo = 0; lo < limit; lo += step) {
		parts.push(spawnJS('primes_worker', 'countPrimes', lo, Math.min(lo + step, limit)));
	}
	const counts = await Promise.all(parts);
	const total = counts.reduce((a, b) => a + b, 0);
	console.log(`primes below ${limit}: ${total} (${parts.length} chunks counted in parallel by spawnJS, ${Date.now() - started} ms)`);
	return total;
}

main();
