/**
 * Task functions for the ProcessPoolExecutor example. They live in their own
 * module so that worker processes can import them by reference (Python pickles
 * a module-level function by its module and name in the same way).
 */

/** Computes n! exactly (CPU-intensive for large n). */
export function computeFactorial(n: number): bigint {
  let result = 1n;
  for (let i = 2n; i <= BigInt(n); i++) result *= i;
  return result;
}
