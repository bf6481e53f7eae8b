package io.machinery.interop;

/** Go sends, Java works: AMQP broker, AMQP result backend. */
class AmqpAmqpGoSendsJavaWorksIT extends GoSendsJavaWorksSuite {
  @Override
  protected Pair pair() {
    return Pair.AMQP_AMQP;
  }
}
