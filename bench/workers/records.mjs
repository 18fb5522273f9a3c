// The per-task floor with no library: a bare worker_threads worker that takes
// batches of task records as our pools lay them out (task id, function id,
// argument count) and answers each batch with one result record per task
// (task id, status, value), as our workers do, calling a no-op for each.
import { parentPort } from 'node:worker_threads';

const noop = () => {};

parentPort.on('message', (records) => {
  const results = [];
  for (let i = 0; i < records.length; i += 3) {
    results.push(records[i], 0, noop());
  }
  parentPort.postMessage(results);
});
