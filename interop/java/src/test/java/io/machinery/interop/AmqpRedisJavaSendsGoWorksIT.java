package io.machinery.interop;

/** Java sends, Go works: AMQP broker, Redis result backend. */
class AmqpRedisJavaSendsGoWorksIT extends JavaSendsGoWorksSuite {
  @Override
  protected Pair pair() {
    return Pair.AMQP_REDIS;
  }
}
