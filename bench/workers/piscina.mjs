// Piscina and tinypool call a named export with the task as its one argument.
export { noop, double, doubleAll, fib, whoami } from './peer-tasks.mjs';
