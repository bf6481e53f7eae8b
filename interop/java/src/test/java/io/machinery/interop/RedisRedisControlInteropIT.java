package io.machinery.interop;

/** Control features beside Go workers: Redis broker, Redis result backend. */
class RedisRedisControlInteropIT extends ControlInteropSuite {
  @Override
  protected Pair pair() {
    return Pair.REDIS_REDIS;
  }
}
