package io.machinery.interop;

/** Java sends, Go works: Redis broker, Memcache result backend (Go's keys and JSON items). */
class RedisMemcacheJavaSendsGoWorksIT extends JavaSendsGoWorksSuite {
  @Override
  protected Pair pair() {
    return Pair.REDIS_MEMCACHE;
  }
}
