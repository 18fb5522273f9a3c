// The round-trip floor: echoes every message back, as a worker thread or as a
// child process (IPC with advanced serialization).
import { isMainThread, parentPort } from 'node:worker_threads';

if (isMainThread) process.on('message', (message) => process.send(message));
else parentPort.on('message', (message) => parentPort.postMessage(message));
