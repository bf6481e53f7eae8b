package io.machinery.internal;

/**
 * Go's {@code retry.FibonacciNext}: the smallest Fibonacci number strictly greater than {@code n}.
 */
public final class Fibonacci {
  private Fibonacci() {}

  public static int next(int n) {
    int a = 1;
    int b = 1;
    while (b <= n) {
      if (b > Integer.MAX_VALUE - a) {
        return Integer.MAX_VALUE;
      }
      int c = a + b;
      a = b;
      b = c;
    }
    return b;
  }
}
