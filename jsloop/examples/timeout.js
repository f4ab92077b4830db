// A timeout and an abort, on Go work (spawn) and on JavaScript work
// (spawnJS): each rejection arrives on time and the work behind it stops.
async function attempt(label, promise) {
	const started = Date.now();
	try {
		await promise;
		console.log(`${label}: finished`);
	} catch (e) {
		console.log(`${label}: ${e.name} after ~${Math.round((Date.now() - started) / 50) * 50} ms`);
	}
}

async function main() {
	// A Go sleep of 10 s with a 100 ms timeout: TimeoutError, its context ends.
	await attempt('spawn timeout', spawn.with({ timeout: 100 }, 'sleep', 10000));

	// The same sleep aborted by an AbortController after 100 ms: AbortError.
	const ac = new AbortController();
	setTimeout(() => ac.abort(), 100);
	await attempt('spawn abort', spawn.with({ signal: ac.signal }, 'sleep', 10000));

	// An endless JavaScript loop in a worker runtime, interrupted at 100 ms.
	await attempt('spawnJS timeout', spawnJS.with({ timeout: 100 }, 'primes_worker', 'spin'));

	// AbortSignal.timeout works as a signal too.
	await attempt('AbortSignal.timeout', spawn.with({ signal: AbortSignal.timeout(100) }, 'sleep', 10000));
}

main();
