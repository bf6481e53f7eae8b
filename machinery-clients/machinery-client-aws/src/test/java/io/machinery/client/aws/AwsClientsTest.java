package io.machinery.client.aws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.sqs.SqsClient;

class AwsClientsTest {
  @Test
  void anAwsSqsAccountUrlGivesItsRegionAndNoEndpointOverride() {
    AwsClients aws = AwsClients.forSqsBroker("https://sqs.eu-west-3.amazonaws.com/123456789012");
    assertThat(aws.region()).isEqualTo(Region.EU_WEST_3);
    assertThat(aws.endpoint()).isEmpty();
  }

  @Test
  void anEmulatorUrlBecomesTheEndpointWithoutItsAccountPath() {
    AwsClients aws = AwsClients.forSqsBroker("http://127.0.0.1:9324/000000000000");
    assertThat(aws.endpoint()).contains(URI.create("http://127.0.0.1:9324"));
  }

  @Test
  void dynamoDbUrlsInEveryForm() {
    assertThat(AwsClients.forDynamoDbBackend("https://dynamodb.ap-south-1.amazonaws.com").region())
        .isEqualTo(Region.AP_SOUTH_1);
    assertThat(AwsClients.forDynamoDbBackend("http://localhost:4567").endpoint())
        .contains(URI.create("http://localhost:4567"));
    assertThat(AwsClients.forDynamoDbBackend("dynamodb://").endpoint()).isEmpty();
    assertThatThrownBy(() -> AwsClients.forDynamoDbBackend("redis://x:1"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("dynamodb://");
  }

  @Test
  void anSqsBrokerUrlThatIsNotHttpIsRefusedWithTheExpectedForm() {
    assertThatThrownBy(() -> AwsClients.forSqsBroker("amqp://guest@localhost:5672/"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("https://sqs.us-east-2.amazonaws.com/123456789012");
  }

  @Test
  void aLoopbackEndpointWorksWithoutConfiguredCredentials() {
    AwsClients aws = AwsClients.forSqsBroker("http://127.0.0.1:9/000000000000");
    assertThat(aws.credentialsProvider().resolveCredentials().accessKeyId()).isNotEmpty();
  }

  @Test
  void buildsARealClientWithTheSettings() {
    AwsClients aws =
        AwsClients.builder()
            .region(Region.US_WEST_2)
            .credentials(StaticCredentialsProvider.create(AwsBasicCredentials.create("a", "b")))
            .endpoint(URI.create("http://127.0.0.1:9"))
            .build();
    try (SqsClient client = aws.build(SqsClient.builder())) {
      assertThat(client.serviceClientConfiguration().region()).isEqualTo(Region.US_WEST_2);
      assertThat(client.serviceClientConfiguration().endpointOverride())
          .contains(URI.create("http://127.0.0.1:9"));
    }
  }

  /**
   * Off EC2 the SDK's region chain ends in the instance metadata service and waits for its timeouts
   * (0.77 s per client built, on every SQS broker and DynamoDB backend of an emulator). A stand-in
   * metadata service on loopback counts the requests: the chain for a loopback endpoint never asks
   * it, and the SDK defaults ({@code dynamodb://}) still do and take its region.
   */
  @Test
  void aLoopbackEndpointsRegionIsNotLookedUpInTheInstanceMetadataService(@TempDir Path home)
      throws IOException {
    assertThat(System.getenv("AWS_REGION"))
        .as("this test needs AWS_REGION unset: the SDK reads it before anything else")
        .isNull();
    List<String> requests = new ArrayList<>();
    HttpServer metadata =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    metadata.createContext(
        "/",
        exchange -> {
          String path = exchange.getRequestURI().getPath();
          synchronized (requests) {
            requests.add(exchange.getRequestMethod() + " " + path);
          }
          byte[] body =
              (path.endsWith("/api/token")
                      ? "token"
                      : "{\"region\":\"eu-north-1\",\"instanceId\":\"i-0\"}")
                  .getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(200, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    metadata.start();
    Map<String, String> settings = new HashMap<>();
    settings.put(
        "aws.ec2MetadataServiceEndpoint", "http://127.0.0.1:" + metadata.getAddress().getPort());
    settings.put("aws.configFile", home.resolve("config").toString()); // no profile region
    settings.put("aws.region", null);
    Map<String, String> saved = new HashMap<>();
    settings.forEach(
        (key, value) -> {
          saved.put(key, System.getProperty(key));
          if (value == null) {
            System.clearProperty(key);
          } else {
            System.setProperty(key, value);
          }
        });
    try {
      assertThat(AwsClients.forSqsBroker("http://127.0.0.1:9324/000000000000").region())
          .isEqualTo(Region.of(AwsClients.FALLBACK_REGION));
      assertThat(AwsClients.forDynamoDbBackend("http://localhost:4567").region())
          .isEqualTo(Region.of(AwsClients.FALLBACK_REGION));
      assertThat(requests).as("metadata requests for loopback endpoints").isEmpty();

      assertThat(AwsClients.forDynamoDbBackend("dynamodb://").region())
          .as("the SDK defaults still ask the metadata service")
          .isEqualTo(Region.EU_NORTH_1);
      assertThat(requests).isNotEmpty();
    } finally {
      metadata.stop(0);
      saved.forEach(
          (key, value) -> {
            if (value == null) {
              System.clearProperty(key);
            } else {
              System.setProperty(key, value);
            }
          });
    }
  }
}
