package io.machinery.interop;

/** Go sends, Java works: Redis broker, Redis result backend. */
class RedisRedisGoSendsJavaWorksIT extends GoSendsJavaWorksSuite {
  @Override
  protected Pair pair() {
    return Pair.REDIS_REDIS;
  }
}
