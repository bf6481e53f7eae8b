package io.machinery.wire;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BodyPreviewTest {

  @Test
  void keepsTheFirstBytesTheSizeAndTheSha256OfTheWhole() {
    byte[] body = "x".repeat(10_000).getBytes(StandardCharsets.US_ASCII);
    BodyPreview preview = BodyPreview.of(body);
    assertThat(preview.preview()).hasSize(BodyPreview.PREVIEW_BYTES);
    assertThat(preview.size()).isEqualTo(10_000);
    assertThat(preview.sha256()).isEqualTo(BodyPreview.sha256Hex(body));
    assertThat(preview.sha256()).hasSize(64).matches("[0-9a-f]{64}");
    assertThat(preview.attributes())
        .containsExactlyInAnyOrderEntriesOf(
            Map.of(BodyPreview.SIZE_KEY, "10000", BodyPreview.SHA256_KEY, preview.sha256()));
    assertThat(BodyPreview.isPreview(preview.attributes())).isTrue();
    assertThat(BodyPreview.isPreview(Map.of("other", 1))).isFalse();
  }

  @Test
  void sha256IsTheStandardOne() {
    // FIPS 180-2's example, as sha256sum prints it
    assertThat(BodyPreview.sha256Hex("abc".getBytes(StandardCharsets.US_ASCII)))
        .isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }

  @Test
  void neverSplitsAUtf8Character() {
    // 4,095 ASCII bytes, then a 3-byte character across the cut at 4,096
    String text = "a".repeat(BodyPreview.PREVIEW_BYTES - 1) + "€" + "b".repeat(100);
    byte[] body = text.getBytes(StandardCharsets.UTF_8);
    BodyPreview preview = BodyPreview.of(body);
    assertThat(preview.preview()).hasSize(BodyPreview.PREVIEW_BYTES - 1);
    assertThat(preview.previewText()).isEqualTo("a".repeat(BodyPreview.PREVIEW_BYTES - 1));
  }

  @Test
  void aShortBodyIsKeptWholeAndCopied() {
    byte[] body = "{}".getBytes(StandardCharsets.UTF_8);
    BodyPreview preview = BodyPreview.of(body);
    body[0] = 'x';
    assertThat(preview.preview()).isEqualTo("{}".getBytes(StandardCharsets.UTF_8));
    byte[] copy = preview.preview();
    Arrays.fill(copy, (byte) 0);
    assertThat(preview.previewText()).isEqualTo("{}");
  }
}
