package io.machinery.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SqsConfigTest {
  @Test
  void theBuilderStartsFromGosDefaultsAndCopies() {
    assertThat(SqsConfig.builder().build()).isEqualTo(SqsConfig.DEFAULT);
    SqsConfig sqs =
        SqsConfig.builder()
            .waitTimeSeconds(20)
            .visibilityTimeout(120)
            .visibilityHeartBeat(true)
            .build();
    assertThat(sqs).isEqualTo(new SqsConfig(20, 120, true));
    assertThat(sqs.toBuilder().build()).isEqualTo(sqs);
    assertThat(sqs.toBuilder().visibilityTimeout(null).build().visibilityTimeout()).isNull();
  }

  @Test
  void theSettersRefuseWhatSqsRefusesAtOnce() {
    SqsConfig.Builder builder = SqsConfig.builder();
    assertThatThrownBy(() -> builder.waitTimeSeconds(21))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "SqsConfig.waitTimeSeconds must be from 0 to 20 (SQS's longest long poll), was 21");
    assertThatThrownBy(() -> builder.visibilityTimeout(43_201))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("SqsConfig.visibilityTimeout must be from 0 to 43200");
    assertThat(builder.build()).as("a refused value is not kept").isEqualTo(SqsConfig.DEFAULT);
  }
}
