package io.machinery.dashboard.testing;

import io.machinery.testkit.DroppingTcpProxy;
import io.machinery.testkit.TestEndpoints;
import java.io.IOException;
import java.net.URI;

/**
 * The test Redis ({@code REDIS_URL}) reached through a {@link DroppingTcpProxy} that a test cuts
 * off, as a Redis restart or a network partition would, for the dashboard's and the command line's
 * tests of a broker that is down.
 */
public final class CuttableRedis implements AutoCloseable {
  private final DroppingTcpProxy proxy;
  private final String url;

  private CuttableRedis(DroppingTcpProxy proxy, String url) {
    this.proxy = proxy;
    this.url = url;
  }

  /** Starts a proxy in front of the test Redis. */
  public static CuttableRedis start() throws IOException {
    URI redis = URI.create(TestEndpoints.redisUrl());
    DroppingTcpProxy proxy =
        DroppingTcpProxy.start(redis.getHost(), redis.getPort() < 0 ? 6379 : redis.getPort());
    String url =
        redis.getScheme()
            + "://"
            + (redis.getRawUserInfo() == null ? "" : redis.getRawUserInfo() + "@")
            + "127.0.0.1:"
            + proxy.port()
            + (redis.getRawPath() == null ? "" : redis.getRawPath());
    return new CuttableRedis(proxy, url);
  }

  /** The Redis URL through the proxy, with the test Redis's credentials and database. */
  public String url() {
    return url;
  }

  /** The proxy, to {@link DroppingTcpProxy#cut()} and {@link DroppingTcpProxy#resume()}. */
  public DroppingTcpProxy proxy() {
    return proxy;
  }

  @Override
  public void close() {
    proxy.close();
  }
}
