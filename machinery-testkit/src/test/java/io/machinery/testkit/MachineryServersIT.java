package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The extension as a user meets it: the annotated parameters are URLs of running servers (here from
 * REDIS_URL and AMQP_URL). Each is checked by speaking its protocol's first words over a plain
 * socket.
 */
@WithRedis
@WithRabbitMq
class MachineryServersIT {

  @Test
  void redisParameterIsARunningRedis(@WithRedis String redisUrl) throws IOException {
    byte[] reply = exchange(redisUrl, "PING\r\n".getBytes(StandardCharsets.US_ASCII), 7);
    assertThat(new String(reply, StandardCharsets.US_ASCII)).isEqualTo("+PONG\r\n");
  }

  @Test
  void rabbitMqParameterIsARunningAmqpServer(@WithRabbitMq String amqpUrl) throws IOException {
    // The AMQP 0-9-1 protocol header; a broker answers with a method frame (type 1) on channel 0:
    // Connection.Start.
    byte[] reply = exchange(amqpUrl, new byte[] {'A', 'M', 'Q', 'P', 0, 0, 9, 1}, 3);
    assertThat(reply).containsExactly(1, 0, 0);
  }

  @Test
  void theStaticAccessorsAgreeWithTheParameters(
      @WithRedis String redisUrl, @WithRabbitMq String amqpUrl) {
    assertThat(MachineryServers.redisUrl()).isEqualTo(redisUrl);
    assertThat(MachineryServers.amqpUrl()).isEqualTo(amqpUrl);
  }

  private static byte[] exchange(String url, byte[] request, int replyLength) throws IOException {
    URI uri = URI.create(url.split(",")[0]);
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), 5000);
      socket.setSoTimeout(5000);
      OutputStream out = socket.getOutputStream();
      out.write(request);
      out.flush();
      InputStream in = socket.getInputStream();
      return in.readNBytes(replyLength);
    }
  }
}
