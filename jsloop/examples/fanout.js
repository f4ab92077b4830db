// Fans out over the files of a directory (args[0], default ./data next to
// this script): one spawn of the Go function sha256File per file, all
// running on the worker pool at once, gathered with Promise.all.
const dir = args[0] || __dirname + '/data';

async function main() {
	const names = await spawn('readDir', dir);
	const sums = await Promise.all(names.map(name => spawn('sha256File', dir + '/' + name)));
	names.forEach((name, i) => console.log(sums[i] + '  ' + name));
	console.log(`${names.length} files hashed in parallel`);
}

main();
