package io.machinery.client.aws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import org.junit.jupiter.api.Test;
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
}
