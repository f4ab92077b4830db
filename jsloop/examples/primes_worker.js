// A CommonJS module for spawnJS: each call runs in a fresh JavaScript
// runtime on a worker, so it shares nothing with the loop or other calls.
function isPrime(n) {
	if (n < 2) return false;
	if (n % 2 === 0) return n === 2;
	for (let d = 3; d * d <= n; d += 2) {
		if (n % d === 0) return false;
	}
	return true;
}

exports.countPrimes = function (lo, hi) {
	let count = 0;
	for (let n = lo; n < hi; n++) {
		if (isPrime(n)) count++;
	}
	return count;
};

// spin never returns: timeout.js shows spawnJS.with interrupting it.
exports.spin = function () {
	for (;;) {}
};
