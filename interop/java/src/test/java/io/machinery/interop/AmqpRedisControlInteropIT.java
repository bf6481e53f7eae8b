package io.machinery.interop;

/**
 * Control features beside Go workers: AMQP broker, Redis result backend (the server's control plane
 * is the Redis backend's).
 */
class AmqpRedisControlInteropIT extends ControlInteropSuite {
  @Override
  protected Pair pair() {
    return Pair.AMQP_REDIS;
  }
}
