package io.machinery.interop;

/** Go sends, Java works: Redis broker, Memcache result backend (Go's keys and JSON items). */
class RedisMemcacheGoSendsJavaWorksIT extends GoSendsJavaWorksSuite {
  @Override
  protected Pair pair() {
    return Pair.REDIS_MEMCACHE;
  }
}
