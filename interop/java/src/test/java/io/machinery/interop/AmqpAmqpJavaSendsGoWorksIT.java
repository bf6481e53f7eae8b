package io.machinery.interop;

/** Java sends, Go works: AMQP broker, AMQP result backend. */
class AmqpAmqpJavaSendsGoWorksIT extends JavaSendsGoWorksSuite {
  @Override
  protected Pair pair() {
    return Pair.AMQP_AMQP;
  }
}
