import workerpool from 'workerpool';
import { noop, double, doubleAll, fib, whoami } from './peer-tasks.mjs';

workerpool.worker({ noop, double, doubleAll, fib, whoami });
