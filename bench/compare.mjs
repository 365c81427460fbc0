// Side-by-side comparison of Petrel and ONNX Runtime (onnxruntime-node, CPU) on the same
// models: median latency at equal thread counts, and the difference between their outputs
// on the same input. Started by bench/compare; `bench/compare --help` lists the options.
//
// Timing alternates the engines: ORT block, Petrel block, ORT block, ... (--rounds blocks each),
// so a change in machine load during the run hits both. Each block is --warmup untimed runs and
// --loops timed runs; Petrel's block is one `petrel bench --json` process, which reports only
// the median of its block, so for both engines the figure shown is the median of the block medians.
// The ratio is the median over rounds of Petrel's block median over the ORT block just before it:
// this machine is shared, and it runs at two speed levels for seconds at a time, so blocks
// measured back to back are the fair pairs; a ratio of the two overall medians can pair an ORT
// figure from a fast moment with a Petrel figure from a slow one.
// The compute table (printCompute) puts both engines against the FMA peak.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH_DIR);
const PETREL = path.join(ROOT, 'build', 'petrel');
const TEST_SET = ['resnet18', 'resnet50', 'mobilenet_v2', 'mobilenet_v3_small', 'squeezenet1_1', 'vit_b_16'];

const USAGE = `usage: bench/compare [--models LIST] [--threads LIST] [--loops N] [--warmup N] [--rounds N]
                     [--memory MODE] [--models-dir DIR] [--json FILE] [--layers N]

Compares Petrel (build/petrel) with ONNX Runtime (onnxruntime-node, CPU) on each model and thread count.
Prints the latency table, then the compute table: GFLOP per run, each engine's share of the FMA peak that
petrel bench measures around its blocks, and the Petrel/ORT ratio if every multiply-add ran at that peak.
  --models LIST     comma-separated torchvision names (default: ${TEST_SET.join(',')})
  --threads LIST    comma-separated thread counts (default: 1,2)
  --loops N         timed runs per engine per block (default 10)
  --warmup N        untimed runs before each block (default 3)
  --rounds N        blocks per engine, alternating ORT and Petrel (default 3)
  --memory MODE     Petrel's memory mode: high (default; the fastest, e.g. Winograd, as ORT
                    runs with every graph optimisation), normal or low
  --models-dir DIR  where NAME.onnx, NAME.input.npy, NAME.output.npy and NAME.petrel live
                    (default: $PETREL_MODEL_DIR or models/); missing files are exported/converted,
                    and a .petrel older than its .onnx or than build/petrel is converted again
  --json FILE       also write the machine description and the rows as JSON
  --layers N        after the timing, profile both engines (ORT's profiler, petrel bench --profile) and
                    print per model and thread count the N layers where Petrel is furthest behind ORT
                    (layers matched by node or output name; the profilers add a little time to each)`;

class UserError extends Error {}
const log = (line) => process.stderr.write(line + '\n');

function positiveInt(name, text) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new UserError(`--${name} must be a positive integer, not '${text}'`);
  return value;
}

function parseOptions() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        models: { type: 'string' }, threads: { type: 'string' }, loops: { type: 'string' },
        warmup: { type: 'string' }, rounds: { type: 'string' }, 'models-dir': { type: 'string' },
        json: { type: 'string' }, memory: { type: 'string' }, layers: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UserError(`${error.message}\n${USAGE}`);
  }
  if (values.help) { console.log(USAGE); process.exit(0); }
  const list = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);
  const warmup = values.warmup === undefined ? 3 : Number(values.warmup);
  if (!Number.isInteger(warmup) || warmup < 0) throw new UserError(`--warmup must be 0 or more, not '${values.warmup}'`);
  const memory = values.memory ?? 'high';
  if (!['high', 'normal', 'low'].includes(memory)) throw new UserError(`--memory must be high, normal or low, not '${memory}'`);
  const models = values.models ? list(values.models) : TEST_SET;
  if (models.length === 0) throw new UserError('--models is empty');
  return {
    models,
    threads: (values.threads ? list(values.threads) : ['1', '2']).map((t) => positiveInt('threads', t)),
    loops: values.loops === undefined ? 10 : positiveInt('loops', values.loops),
    warmup,
    rounds: values.rounds === undefined ? 3 : positiveInt('rounds', values.rounds),
    memory,
    modelsDir: path.resolve(values['models-dir'] ?? process.env.PETREL_MODEL_DIR ?? path.join(ROOT, 'models')),
    json: values.json,
    layers: values.layers === undefined ? 0 : positiveInt('layers', values.layers),
  };
}

// Runs a program; on failure throws its `petrel: error:` line (or its last stderr line).
function run(program, args, { inherit = false, what } = {}) {
  const result = spawnSync(program, args, {
    cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20,
    stdio: inherit ? ['ignore', process.stderr, process.stderr] : ['ignore', 'pipe', 'pipe'],
  });
  if (result.error) throw new UserError(`${what}: cannot start ${program}: ${result.error.message}`);
  if (result.status !== 0) {
    const lines = (result.stderr ?? '').trim().split('\n').filter(Boolean);
    const line = lines.find((l) => l.startsWith('petrel: error:')) ?? lines.at(-1) ?? '(see the output above)';
    // A .petrel written by an older build is the usual cause of this one.
    const hint = line.includes('not a valid Petrel model') ? ' (delete the .petrel file to have it converted again)' : '';
    throw new UserError(`${what} failed (exit status ${result.status ?? result.signal}): ${line}${hint}`);
  }
  return result.stdout;
}

// ONNX Runtime from npm, installed into bench/node_modules (git ignores it) on first use.
function loadOnnxRuntime() {
  const require = createRequire(path.join(BENCH_DIR, 'package.json'));
  const installed = fs.existsSync(path.join(BENCH_DIR, 'node_modules', 'onnxruntime-node', 'package.json'));
  if (!installed) {
    const lock = fs.existsSync(path.join(BENCH_DIR, 'package-lock.json'));
    log(`installing onnxruntime-node into bench/node_modules (npm ${lock ? 'ci' : 'install'}) ...`);
    // Without this the package's install script tries to fetch CUDA files from an unreachable host.
    const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL_CUDA: 'skip', ONNXRUNTIME_NODE_INSTALL: 'skip' };
    const result = spawnSync('npm', [lock ? 'ci' : 'install', '--no-audit', '--no-fund'],
      { cwd: BENCH_DIR, env, stdio: ['ignore', process.stderr, process.stderr] });
    if (result.error || result.status !== 0) {
      throw new UserError('npm could not install onnxruntime-node into bench/node_modules ' +
        `(${result.error ? result.error.message : 'exit status ' + result.status}). ` +
        'Check that npm is installed and can reach its registry (`npm config get registry`), then run ' +
        '`cd bench && ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci` by hand, or simply rerun bench/compare.');
    }
  }
  try {
    const ort = require('onnxruntime-node');
    return { ort, version: require('onnxruntime-node/package.json').version };
  } catch (error) {
    throw new UserError(`onnxruntime-node is installed but cannot be loaded (${error.message.split('\n')[0]}); ` +
      'delete bench/node_modules and rerun bench/compare to reinstall it');
  }
}

// Reads a float32, C-order .npy file (format versions 1-3) into { shape, data }.
function readNpy(file) {
  const bytes = fs.readFileSync(file);
  const fail = (why) => { throw new UserError(`${file}: ${why}`); };
  if (bytes.length < 10 || bytes.toString('latin1', 0, 6) !== '\x93NUMPY') fail('not a .npy file');
  const major = bytes[6];
  if (major < 1 || major > 3) fail(`unsupported .npy version ${major}`);
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const dataStart = (major === 1 ? 10 : 12) + headerLength;
  const header = bytes.toString('latin1', major === 1 ? 10 : 12, dataStart);
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr !== '<f4') fail(`dtype is '${descr}', expected little-endian float32 '<f4'`);
  if (fortran !== 'False') fail('Fortran order is not supported; save it in C order');
  if (shapeText === undefined) fail('header has no shape');
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== dataStart + 4 * count) fail(`size ${bytes.length} does not match shape (${shape})`);
  // Copy into a fresh buffer: the file's data need not be 4-byte aligned.
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + dataStart, bytes.byteOffset + dataStart + 4 * count));
  return { shape, data };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
}

function compareOutputs(mine, reference) {
  if (mine.data.length !== reference.data.length)
    throw new UserError(`output sizes differ: Petrel (${mine.shape}) vs ORT (${reference.shape})`);
  let maxAbs = 0, diff2 = 0, ref2 = 0;
  for (let i = 0; i < mine.data.length; ++i) {
    const d = mine.data[i] - reference.data[i];
    maxAbs = Math.max(maxAbs, Math.abs(d));
    diff2 += d * d;
    ref2 += reference.data[i] * reference.data[i];
  }
  return { maxAbs, relL2: Math.sqrt(diff2) / Math.max(Math.sqrt(ref2), 1e-30) };
}

// Makes sure NAME.onnx (+ input/output .npy) and NAME.petrel exist: exports and converts what is missing.
// A .petrel older than its .onnx or than the petrel binary is converted again: a rebuilt converter may
// write another graph (new fusions), and benchmarking the old one would measure old code.
function prepareModel(name, dir) {
  const file = (suffix) => path.join(dir, name + suffix);
  const exported = ['.onnx', '.input.npy', '.output.npy'].every((s) => fs.existsSync(file(s)));
  if (!exported) {
    log(`exporting ${name} into ${dir} ...`);
    run('/usr/bin/python3', [path.join(ROOT, 'scripts', 'export_models.py'), '--out', dir, '--models', name],
      { inherit: true, what: `exporting model '${name}' (scripts/export_models.py)` });
  }
  const onnx = file('.onnx'), petrel = file('.petrel');
  const stale = fs.existsSync(petrel) &&
    fs.statSync(petrel).mtimeMs < Math.max(fs.statSync(onnx).mtimeMs, fs.statSync(PETREL).mtimeMs);
  if (!fs.existsSync(petrel) || stale) {
    log(`converting ${name}.onnx to ${name}.petrel${stale ? ' (older than the .onnx or the petrel binary)' : ''} ...`);
    run(PETREL, ['convert', onnx, petrel], { what: `petrel convert ${name}` });
  }
  return { onnx, petrel, input: file('.input.npy') };
}

// An ONNX Runtime session as the comparison runs it (graph optimisation all,
// `threads` intra-op threads, sequential; `extra` adds options), and its feeds:
// the exported input.
async function openOrt(ort, paths, threads, extra = {}) {
  const input = readNpy(paths.input);
  let session;
  try {
    session = await ort.InferenceSession.create(paths.onnx, {
      executionProviders: ['cpu'], graphOptimizationLevel: 'all',
      intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', ...extra,
    });
  } catch (error) {
    throw new UserError(`ONNX Runtime cannot load ${paths.onnx}: ${error.message.split('\n')[0]}`);
  }
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input.data, input.shape) };
  return { session, feeds };
}

// One `petrel bench --json` block with the comparison's settings; its report.
function petrelBench(paths, threads, options, extraArgs = []) {
  const json = run(PETREL, ['bench', paths.petrel, '--threads', String(threads), '--warmup', String(options.warmup),
    '--loops', String(options.loops), '--memory', options.memory, '--json', ...extraArgs],
    { what: `petrel bench ${paths.petrel}` });
  return JSON.parse(json);
}

async function compareOne(ort, model, paths, threads, options) {
  const { session, feeds } = await openOrt(ort, paths, threads);
  try {
    const outputName = session.outputNames[0];
    const runOrt = () => session.run(feeds);

    // Outputs on the exported input: ORT in memory, Petrel through `petrel run --output-dir`.
    const ortOutput = (await runOrt())[outputName];
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'petrel-compare-'));
    let diff;
    try {
      run(PETREL, ['run', paths.petrel, '--input', `${session.inputNames[0]}=${paths.input}`,
        '--output-dir', outDir, '--threads', String(threads), '--memory', options.memory], { what: `petrel run ${model}` });
      const mine = readNpy(path.join(outDir, outputName.replaceAll('/', '_') + '.npy'));
      diff = compareOutputs(mine, { shape: ortOutput.dims, data: ortOutput.data });
    } finally {
      fs.rmSync(outDir, { recursive: true, force: true });
    }

    // Alternating timed blocks.
    const ortBlocks = [], petrelBlocks = [], peaks = [];
    let flops = 0;
    for (let round = 0; round < options.rounds; ++round) {
      for (let i = 0; i < options.warmup; ++i) await runOrt();
      const times = [];
      for (let i = 0; i < options.loops; ++i) {
        const start = performance.now();
        await runOrt();
        times.push(performance.now() - start);
      }
      ortBlocks.push(median(times));

      const report = petrelBench(paths, threads, options);
      petrelBlocks.push(report.median_ms);
      peaks.push(report.fma_peak_gflops.before, report.fma_peak_gflops.after);
      flops = report.flops;
    }
    const ortMs = median(ortBlocks), petrelMs = median(petrelBlocks);
    const pairedRatios = petrelBlocks.map((t, round) => t / ortBlocks[round]);
    const fixed = (values) => values.map((x) => x.toFixed(2)).join(' ');
    log(`  ${model} threads ${threads}: ORT ${ortMs.toFixed(2)} ms, Petrel ${petrelMs.toFixed(2)} ms ` +
      `(block medians ORT ${fixed(ortBlocks)}; Petrel ${fixed(petrelBlocks)}; ratios ${fixed(pairedRatios)})`);
    return {
      model, threads, ort_median_ms: ortMs, petrel_median_ms: petrelMs, petrel_over_ort: median(pairedRatios),
      ratio_of_medians: petrelMs / ortMs, max_abs_diff: diff.maxAbs, rel_l2: diff.relL2,
      ort_block_medians_ms: ortBlocks, petrel_block_medians_ms: petrelBlocks, paired_ratios: pairedRatios,
      flops, fma_peak_gflops: peaks,
    };
  } finally {
    await session.release();
  }
}

// Milliseconds per run of every node ORT ran in its last `loops` runs, from its profiler's trace.
function ortNodeTimes(traceFile, loops) {
  const events = JSON.parse(fs.readFileSync(traceFile, 'utf8'));
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const timed = runs.slice(-loops);
  if (timed.length === 0) throw new UserError(`ONNX Runtime's profile ${traceFile} has no model_run events`);
  const from = timed[0].ts;
  const times = new Map();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
    const name = e.name.slice(0, -'_kernel_time'.length);
    times.set(name, (times.get(name) ?? 0) + e.dur / 1000 / timed.length);
  }
  return times;
}

// Per-layer times of both engines, matched by name: an ORT node is named as in
// the ONNX graph, or after the value it writes plus "_nchwc" when its NCHWc
// pass rewrote (and fused) it; a Petrel node keeps the ONNX name of its first
// node and writes the value of the last node it fused. Returns the layers where Petrel is
// furthest behind, and the time of what matched nothing on either side.
async function compareLayers(ort, paths, threads, options) {
  const prefix = path.join(os.tmpdir(), `petrel-compare-${process.pid}-${threads}`);
  const { session, feeds } = await openOrt(ort, paths, threads, { enableProfiling: true, profileFilePrefix: prefix });
  for (let i = 0; i < options.warmup + options.loops; ++i) await session.run(feeds);
  session.endProfiling();
  await session.release();
  const dir = path.dirname(prefix);
  const traces = fs.readdirSync(dir).filter((f) => f.startsWith(path.basename(prefix)) && f.endsWith('.json'));
  if (traces.length !== 1)
    throw new UserError(`expected one ONNX Runtime profile ${prefix}_*.json, found ${traces.length}`);
  const traceFile = path.join(dir, traces[0]);
  let ortTimes;
  try {
    ortTimes = ortNodeTimes(traceFile, options.loops);
  } finally {
    fs.rmSync(traceFile, { force: true });
  }

  const nodes = petrelBench(paths, threads, options, ['--profile']).nodes;
  const byKey = new Map();
  nodes.forEach((n, i) => { byKey.set(n.name, i); if (n.output) byKey.set(n.output, i); });
  const ortMs = new Array(nodes.length).fill(0);
  const matched = new Array(nodes.length).fill(false);
  let ortOnly = 0;
  for (const [name, ms] of ortTimes) {
    const key = name.endsWith('_nchwc') ? name.slice(0, -'_nchwc'.length) : name;
    // PyTorch's exporter names a node's output "<node>_output_0": an ORT node
    // named after a Conv's output matches the Petrel Conv that also took in
    // the residual Add (and so writes the Add's output instead).
    const i = byKey.get(key) ?? byKey.get(key.replace(/_output_0$/, ''));
    if (i === undefined) {
      ortOnly += ms;
    } else {
      ortMs[i] += ms;
      matched[i] = true;
    }
  }
  const layers = nodes.map((n, i) => ({ name: n.name, kernel: n.kernel, ort: ortMs[i], petrel: n.ms,
    matched: matched[i] }));
  const petrelOnly = layers.filter((l) => !l.matched).reduce((sum, l) => sum + l.petrel, 0);
  const behind = layers.filter((l) => l.matched).sort((a, b) => (b.petrel - b.ort) - (a.petrel - a.ort));
  return { behind: behind.slice(0, options.layers), ortOnly, petrelOnly,
    ortTotal: [...ortTimes.values()].reduce((a, b) => a + b, 0), petrelTotal: nodes.reduce((a, n) => a + n.ms, 0) };
}

function printLayers(model, threads, l) {
  const ms = (x) => x.toFixed(3);
  console.log(`\n${model}, ${threads} thread${threads > 1 ? 's' : ''}: the ${l.behind.length} layers where Petrel is ` +
    `furthest behind (ms per run; profiled totals ORT ${ms(l.ortTotal)}, Petrel ${ms(l.petrelTotal)})\n`);
  console.log('| layer | Petrel kernel | ORT ms | Petrel ms | Petrel - ORT |');
  console.log('|---|---|---|---|---|');
  for (const r of l.behind)
    console.log(`| ${r.name} | ${r.kernel} | ${ms(r.ort)} | ${ms(r.petrel)} | ${ms(r.petrel - r.ort)} |`);
  console.log(`| (ORT nodes matching no Petrel node, e.g. layout reorders) | | ${ms(l.ortOnly)} | | |`);
  console.log(`| (Petrel nodes matching no ORT node) | | | ${ms(l.petrelOnly)} | |`);
}

// How close each engine runs to the machine's fp32 FMA peak, and the
// Petrel/ORT ratio if Petrel's multiply-adds all ran at the peak, nothing else
// taking time: the best an fp32 FMA kernel can reach, unless a fast algorithm
// (Winograd for 3x3 convolutions) does fewer multiply-adds than the operations
// define - then a share of the peak can pass 100%. The peak (one thread's, times
// the thread count) is the highest petrel bench measured around its blocks; a
// much lower one among them means another process shared the cores then.
function printCompute(rows) {
  console.log('\nCompute: GFLOP per run as Petrel counts it (Conv, ConvTranspose, Gemm, MatMul, PetrelAttention; ' +
    'a multiply-add is 2; ORT runs the same model); FMA peak per thread as petrel bench measured it before and ' +
    'after each block (max, and min in brackets); "at peak": Petrel/ORT if every multiply-add ran at the peak ' +
    'of all threads, a floor unless Winograd (memory mode high, 3x3 convolutions) does fewer multiply-adds, ' +
    'which can also take a share past 100%\n');
  console.log('| model | threads | GFLOP per run | FMA peak GFLOP/s | ORT % of peak | Petrel % of peak | ' +
    'Petrel/ORT at peak |');
  console.log('|---|---|---|---|---|---|---|');
  const noisy = [];
  for (const r of rows) {
    const peak = Math.max(...r.fma_peak_gflops), low = Math.min(...r.fma_peak_gflops);
    if (low < 0.9 * peak) noisy.push(`${r.model} at ${r.threads} thread${r.threads > 1 ? 's' : ''}`);
    const atPeakMs = peak > 0 ? r.flops / 1e6 / (peak * r.threads) : NaN;  // GFLOP / (GFLOP/s) in ms
    const share = (ms) => (peak > 0 ? `${(100 * atPeakMs / ms).toFixed(0)}%` : 'n/a');
    console.log(`| ${r.model} | ${r.threads} | ${(r.flops / 1e9).toFixed(3)} | ${peak.toFixed(1)} (${low.toFixed(1)}) | ` +
      `${share(r.ort_median_ms)} | ${share(r.petrel_median_ms)} | ` +
      `${peak > 0 ? (atPeakMs / r.ort_median_ms).toFixed(2) : 'n/a'} |`);
  }
  if (noisy.length > 0)
    console.log(`\nThe FMA peak fell by more than 10% during the blocks of ${noisy.join(', ')}: another process ` +
      'shared the cores, so those ratios may be off; run again when the machine is quiet.');
}

function machineDescription(ortVersion) {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const cpu = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown CPU';
  const flags = /^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.split(' ') ?? [];
  const simd = ['avx2', 'fma', 'f16c', 'avx512f'].filter((f) => flags.includes(f)).join(',');
  return { cpu, cores: os.cpus().length, simd, ort_version: ortVersion, node: process.version };
}

async function main() {
  const options = parseOptions();
  if (!fs.existsSync(PETREL)) {
    log('build/petrel is missing: building it with scripts/build.sh ...');
    run(path.join(ROOT, 'scripts', 'build.sh'), [], { inherit: true, what: 'scripts/build.sh' });
  }
  const { ort, version } = loadOnnxRuntime();
  fs.mkdirSync(options.modelsDir, { recursive: true });
  const prepared = options.models.map((name) => [name, prepareModel(name, options.modelsDir)]);

  const machine = machineDescription(version);
  const loadBefore = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  log(`timing: ${options.rounds} alternating blocks per engine, each ${options.warmup} warm-up + ${options.loops} timed runs`);
  const rows = [];
  for (const [name, paths] of prepared)
    for (const threads of options.threads) rows.push(await compareOne(ort, name, paths, threads, options));
  const layers = [];
  if (options.layers > 0) {
    log(`profiling layers of both engines (${options.warmup} warm-up + ${options.loops} runs each) ...`);
    for (const [name, paths] of prepared)
      for (const threads of options.threads)
        layers.push({ model: name, threads, ...(await compareLayers(ort, paths, threads, options)) });
  }
  const loadAfter = os.loadavg().map((x) => x.toFixed(2)).join(' ');

  const ms = (x) => x.toFixed(2), sci = (x) => x.toExponential(2);
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores (${machine.simd}); ONNX Runtime ${version} ` +
    `(onnxruntime-node, CPU EP, Node ${machine.node}); load average ${loadBefore} before, ${loadAfter} after`);
  console.log(`median of ${options.rounds} alternating block medians per engine, ${options.loops} timed runs per block; ` +
    `Petrel/ORT is the median of the ${options.rounds} back-to-back block ratios (range in brackets); ` +
    `Petrel memory mode ${options.memory}\n`);
  console.log('| model | threads | ORT median ms | Petrel median ms | Petrel/ORT | max abs diff | rel L2 |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const range = `${Math.min(...r.paired_ratios).toFixed(2)}-${Math.max(...r.paired_ratios).toFixed(2)}`;
    console.log(`| ${r.model} | ${r.threads} | ${ms(r.ort_median_ms)} | ${ms(r.petrel_median_ms)} | ` +
      `${r.petrel_over_ort.toFixed(2)} (${range}) | ${sci(r.max_abs_diff)} | ${sci(r.rel_l2)} |`);
  }
  printCompute(rows);
  for (const l of layers) printLayers(l.model, l.threads, l);
  if (options.json) {
    const report = { machine: { ...machine, load_average_before: loadBefore, load_average_after: loadAfter },
      settings: { loops: options.loops, warmup: options.warmup, rounds: options.rounds, memory: options.memory },
      rows, layers };
    fs.writeFileSync(options.json, JSON.stringify(report, null, 2) + '\n');
  }
}

main().catch((error) => {
  log(`bench/compare: error: ${error instanceof UserError ? error.message : error.stack}`);
  process.exit(1);
});
