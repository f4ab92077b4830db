// Modules for streams.js, each call run in a JavaScript runtime of its own
// on a worker.

// primes yields the primes below limit, one at a time: spawnJS.stream sends
// each to the loop as it is found, and suspends the generator while the
// loop has 16 values it has not taken yet.
exports.primes = function* (limit) {
	for (let n = 2; n < limit; n++) {
		let prime = true;
		for (let d = 2; d * d <= n; d++) {
			if (n % d === 0) { prime = false; break; }
		}
		if (prime) yield n;
	}
};

// squares sends 1², 2², ... n² into a Channel shared with another worker,
// then closes it.
exports.squares = async function (ch, n) {
	for (let i = 1; i <= n; i++) await ch.send(i * i);
	ch.close();
	return n;
};

// total receives from the same Channel until it is closed and drained.
exports.total = async function (ch) {
	let sum = 0, count = 0;
	for await (const v of ch) { sum += v; count++; }
	return { sum, count };
};
