// ONNX Runtime (npm onnxruntime-node, CPU execution provider) latency of one
// ONNX model on the .npy inputs of a folder, one JSON line on stdout.
//   node ort_bench.js MODEL.onnx INPUT_DIR THREADS ITERATIONS WARMUP
// INPUT_DIR holds <input name>.npy for every model input (make_inputs.py).
const ort = require('onnxruntime-node');
const path = require('path');
const { readNpy } = require('./npy.js');

async function main() {
  const [model, inputDir, threads, iterations, warmup] = process.argv.slice(2);
  if (!warmup) throw new Error('usage: node ort_bench.js MODEL.onnx INPUT_DIR THREADS ITERATIONS WARMUP');
  // One intra-op pool of THREADS and sequential execution: what octet does.
  // ORT's pool spins between tasks, as OpenMP's threads do by default; with
  // OMP_WAIT_POLICY=PASSIVE (compare.sh passes it through to octet and
  // PyTorch) it sleeps instead, so that the three runtimes wait alike.
  const passive = (process.env.OMP_WAIT_POLICY || '').toUpperCase() === 'PASSIVE';
  const options = { intraOpNumThreads: +threads, interOpNumThreads: 1, executionMode: 'sequential',
                    graphOptimizationLevel: 'all',
                    extra: { session: { intra_op: { allow_spinning: passive ? '0' : '1' } } } };
  let t0 = performance.now();
  const session = await ort.InferenceSession.create(model, options);
  const loadMs = performance.now() - t0;
  const feeds = {};
  for (const name of session.inputNames) feeds[name] = readNpy(path.join(inputDir, `${name}.npy`), ort);
  t0 = performance.now();
  await session.run(feeds);
  const firstMs = performance.now() - t0;
  for (let i = 0; i < +warmup; i++) await session.run(feeds);
  const ms = [];
  for (let i = 0; i < +iterations; i++) {
    const t = performance.now();
    await session.run(feeds);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const m = ms.length >> 1;
  const median = ms.length % 2 ? ms[m] : (ms[m - 1] + ms[m]) / 2;  // trtexec's median
  console.log(JSON.stringify({
    runtime: 'onnxruntime-node ' + require('onnxruntime-node/package.json').version,
    model: path.basename(model), threads: +threads, iterations: ms.length,
    min_ms: ms[0], median_ms: median, mean_ms: ms.reduce((a, b) => a + b, 0) / ms.length,
    max_ms: ms[ms.length - 1], load_ms: loadMs, first_run_ms: firstMs }));
}

main().catch((e) => { console.error(`ort_bench.js: ${e.message}`); process.exit(1); });
