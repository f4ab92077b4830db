// Streams: a generator in a worker runtime feeding this loop through
// for await, and a Channel shared by two workers.
// Run: go run ./jsloop/cmd/velajs jsloop/examples/streams.js [limit]
const limit = Number(args[0] || 50000);

async function main() {
	// Values arrive while the worker is still computing; break would stop it.
	let count = 0, last = 0;
	for await (const p of spawnJS.stream('stream_worker', 'primes', limit)) {
		count++;
		last = p;
	}
	console.log(`streamed ${count} primes below ${limit}, the last ${last}`);

	// One worker produces into the channel, another consumes from it.
	const ch = new Channel(8);
	const [sent, { sum, count: got }] = await Promise.all([
		spawnJS('stream_worker', 'squares', ch, 100),
		spawnJS('stream_worker', 'total', ch),
	]);
	console.log(`a channel between two workers: ${sent} squares sent, ${got} received, sum ${sum}`);
}

main();
