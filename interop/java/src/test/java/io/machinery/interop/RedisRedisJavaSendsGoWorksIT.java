package io.machinery.interop;

/** Java sends, Go works: Redis broker, Redis result backend. */
class RedisRedisJavaSendsGoWorksIT extends JavaSendsGoWorksSuite {
  @Override
  protected Pair pair() {
    return Pair.REDIS_REDIS;
  }
}
