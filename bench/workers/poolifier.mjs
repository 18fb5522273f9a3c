import { ThreadWorker } from 'poolifier';
import { noop, double, doubleAll, fib, whoami } from './peer-tasks.mjs';

export default new ThreadWorker({ noop, double, doubleAll, fib, whoami });
