package io.machinery.client.amqp;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Method;
import com.rabbitmq.client.ShutdownSignalException;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** Whose error closed a shared publishing channel ({@link ConfirmPublisher#closedByAnother}). */
class ConfirmPublisherTest {
  private static final int BASIC = 60;
  private static final int PUBLISH = 40;
  private static final int QUEUE = 50;
  private static final int BIND = 20;

  private static AmqpOperationException channelClosed(
      int code, String text, int classId, int methodId) {
    Method close =
        new AMQP.Channel.Close.Builder()
            .replyCode(code)
            .replyText(text)
            .classId(classId)
            .methodId(methodId)
            .build();
    return AmqpOperationException.of(
        "the publishing channel closed before the confirm",
        new ShutdownSignalException(false, false, close, null));
  }

  @Test
  void aMissingExchangeIsTheErrorOfThePublishesToItOnly() {
    AmqpOperationException e =
        channelClosed(404, "NOT_FOUND - no exchange 'gone' in vhost '/'", BASIC, PUBLISH);
    assertThat(ConfirmPublisher.closedByAnother(e, "gone", 10, false)).isFalse();
    assertThat(ConfirmPublisher.closedByAnother(e, "machinery_exchange", 10, false)).isTrue();
    assertThat(ConfirmPublisher.closedByAnother(e, "", 10, true)).isTrue();
  }

  @Test
  void anOversizedMessageIsTheErrorOfThePublishOfThatSizeOnly() {
    AmqpOperationException e =
        channelClosed(
            406,
            "PRECONDITION_FAILED - message size 134217729 is larger than configured max size"
                + " 134217728",
            BASIC,
            PUBLISH);
    assertThat(ConfirmPublisher.closedByAnother(e, "ex", 134_217_729, false)).isFalse();
    assertThat(ConfirmPublisher.closedByAnother(e, "ex", 13_421, false)).isTrue();
  }

  @Test
  void aRefusedSetupCommandIsTheErrorOfThePublishesThatSentSetupCommands() {
    AmqpOperationException e =
        channelClosed(404, "NOT_FOUND - no queue 'q' in vhost '/'", QUEUE, BIND);
    assertThat(ConfirmPublisher.closedByAnother(e, "ex", 10, true)).isFalse();
    assertThat(ConfirmPublisher.closedByAnother(e, "ex", 10, false)).isTrue();
  }

  @Test
  void aLostConnectionOrAnErrorWithoutAChannelCloseIsNobodysToResendFor() {
    Method connectionClose =
        new AMQP.Connection.Close.Builder().replyCode(320).replyText("CONNECTION_FORCED").build();
    AmqpOperationException lost =
        AmqpOperationException.of(
            "publish", new ShutdownSignalException(true, false, connectionClose, null));
    assertThat(ConfirmPublisher.closedByAnother(lost, "ex", 10, false)).isFalse();
    assertThat(
            ConfirmPublisher.closedByAnother(
                AmqpOperationException.of("publish", new IOException("broken pipe")),
                "ex",
                10,
                false))
        .isFalse();
  }
}
