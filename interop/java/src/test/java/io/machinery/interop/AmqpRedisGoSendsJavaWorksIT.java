package io.machinery.interop;

/** Go sends, Java works: AMQP broker, Redis result backend. */
class AmqpRedisGoSendsJavaWorksIT extends GoSendsJavaWorksSuite {
  @Override
  protected Pair pair() {
    return Pair.AMQP_REDIS;
  }
}
