package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Go's {@code tasks.NewChord} names the callback {@code chord_…} (reliability review F24). */
class ChordTest {
  private static final String UUID_PATTERN =
      "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

  @Test
  void aCallbackBuiltWithAGeneratedTaskUuidIsSentAsAChordCallback() {
    Signature callback = Signature.create("multiply");
    Chord chord = Chord.of(Group.of(Signature.create("add"), Signature.create("add")), callback);
    assertThat(chord.callback().uuid())
        .isEqualTo("chord_" + callback.uuid().substring("task_".length()));
    assertThat(chord.group().tasks())
        .allSatisfy(t -> assertThat(t.chordCallback()).isEqualTo(chord.callback()));
  }

  @Test
  void aCallbackWithoutUuidGetsAFreshChordUuidAsInGo() {
    Chord chord =
        Chord.of(
            Group.of(Signature.create("add")), Signature.emptyBuilder().name("multiply").build());
    assertThat(chord.callback().uuid()).matches("chord_" + UUID_PATTERN);
  }

  @Test
  void aCallersOwnUuidIsKeptAsInGo() {
    Signature callback =
        Signature.builder("multiply").uuid("chord_" + java.util.UUID.randomUUID()).build();
    assertThat(Chord.of(Group.of(Signature.create("add")), callback).callback().uuid())
        .isEqualTo(callback.uuid());
    Signature custom = Signature.builder("multiply").uuid("my-callback").build();
    assertThat(Chord.of(Group.of(Signature.create("add")), custom).callback().uuid())
        .isEqualTo("my-callback");
  }
}
