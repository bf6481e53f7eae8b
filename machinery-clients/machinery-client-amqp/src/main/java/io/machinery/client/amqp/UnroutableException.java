package io.machinery.client.amqp;

/**
 * The broker returned a mandatory message: no queue is bound to the exchange with its routing key,
 * so the message was not stored anywhere.
 */
public final class UnroutableException extends AmqpOperationException {
  private static final long serialVersionUID = 1L;

  private final String exchange;
  private final String routingKey;

  public UnroutableException(String exchange, String routingKey) {
    super(
        "no queue is bound to exchange '"
            + exchange
            + "' with routing key '"
            + routingKey
            + "': the message was returned unroutable",
        312,
        false,
        null);
    this.exchange = exchange;
    this.routingKey = routingKey;
  }

  public String exchange() {
    return exchange;
  }

  public String routingKey() {
    return routingKey;
  }
}
