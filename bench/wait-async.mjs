// Does Atomics.waitAsync wake an idle worker thread faster than its message port?
// (issue 10, round trip: piscina's `atomics: 'async'` idea.) Run: node bench/wait-async.mjs
//
// Two bare workers echo a task-sized message, 10,000 sequential round trips each,
// twice: one reads its port as a pool worker does; the other idles in
// Atomics.waitAsync on a shared cell, which the parent bumps and notifies after
// posting, and then drains its port with receiveMessageOnPort. No library.
// (Atomics.wait, which piscina's synchronous mode uses, blocks the worker's event
// loop while idle, so that a task's timers and I/O would stall: not a candidate.)
import {
  MessageChannel,
  Worker,
  isMainThread,
  parentPort,
  receiveMessageOnPort,
  workerData,
} from 'node:worker_threads';

const N = 10_000;

if (isMainThread) {
  const message = { t: 'run', tasks: [1, 1, 0] };
  const measure = async (name, call, close) => {
    for (let i = 0; i < 1_000; i++) await call();
    const samples = [];
    for (let i = 0; i < N; i++) {
      const start = performance.now();
      await call();
      samples.push((performance.now() - start) * 1000);
    }
    samples.sort((a, b) => a - b);
    const at = (q) => samples[Math.floor(q * N)].toFixed(1);
    console.log(`${name.padEnd(24)} p10 ${at(0.1)}  median ${at(0.5)}  p99 ${at(0.99)} µs`);
    await close();
  };
  for (let round = 0; round < 2; round++) {
    {
      const w = new Worker(new URL(import.meta.url), { workerData: { mode: 'port' } });
      let resolve;
      w.on('message', (m) => resolve(m));
      await measure(
        'port (as our workers)',
        () =>
          new Promise((r) => {
            resolve = r;
            w.postMessage(message);
          }),
        () => w.terminate(),
      );
    }
    {
      const cell = new Int32Array(new SharedArrayBuffer(4));
      const { port1, port2 } = new MessageChannel();
      const w = new Worker(new URL(import.meta.url), {
        workerData: { mode: 'waitAsync', cell, port: port2 },
        transferList: [port2],
      });
      let resolve;
      w.on('message', (m) => resolve(m));
      await measure(
        'Atomics.waitAsync',
        () =>
          new Promise((r) => {
            resolve = r;
            port1.postMessage(message);
            Atomics.add(cell, 0, 1);
            Atomics.notify(cell, 0);
          }),
        () => w.terminate(),
      );
    }
  }
} else if (workerData.mode === 'port') {
  parentPort.on('message', (m) => parentPort.postMessage(m));
} else {
  const { cell, port } = workerData;
  // A pending waitAsync does not keep a worker alive; a pool worker's port listener does.
  parentPort.on('message', () => {});
  const loop = () => {
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
      parentPort.postMessage(m.message);
    }
    const wait = Atomics.waitAsync(cell, 0, Atomics.load(cell, 0));
    if (wait.async) void wait.value.then(loop);
    else loop();
  };
  loop();
}
