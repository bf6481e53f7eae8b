package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.config.Config;
import io.machinery.wire.WireCodec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The DAG header: what a worker reads back from what {@code sendDag} wrote, and the headers it
 * refuses (a message is input from anywhere: no header may make a cycle, name a later node or
 * smuggle a task whose UUID is not its node's).
 */
class DagHeaderTest {
  private static final Dag DIAMOND =
      Dag.builder()
          .task("a", Signature.create("add", Arg.of(1L)))
          .task("b", Signature.create("add"), "a")
          .task("c", Signature.create("multiply"), "a")
          .task("d", Signature.create("add"), "b", "c")
          .task("e", Signature.create("add"))
          .build();

  private static DagHeader read(String header) {
    Signature carrier =
        Signature.create("add").toBuilder().header(DagHeader.HEADER, header).build();
    return DagHeader.of(carrier, Config.DEFAULT).orElseThrow();
  }

  @Test
  void aWorkerReadsBackTheDagItWasSent() {
    String header = DagHeader.encode(DIAMOND.nodes());
    DagHeader dag = read(header);

    assertThat(dag.indexOf(DIAMOND.task("c").uuid())).isEqualTo(2);
    assertThat(dag.indexOf("task_00000000-0000-0000-0000-000000000000")).isEqualTo(-1);
    assertThat(dag.dependents(0)).containsExactly(1, 2);
    assertThat(dag.descendants(0)).containsExactly(1, 2, 3);
    assertThat(dag.descendants(4)).isEmpty();
    assertThat(dag.dependencyUuids(3))
        .containsExactly(DIAMOND.task("b").uuid(), DIAMOND.task("c").uuid());
    assertThat(dag.name(3)).isEqualTo("d");
    Signature d = dag.task(3);
    assertThat(d.uuid()).isEqualTo(DIAMOND.task("d").uuid());
    assertThat(d.headers()).containsEntry(DagHeader.HEADER, header);
    // as it travels: the task's own message round-trips through the wire codec with the header
    assertThat(WireCodec.decodeSignature(WireCodec.encode(d))).isEqualTo(d);
    assertThat(DagHeader.joinGroup(d.uuid()))
        .startsWith("group_")
        .isEqualTo(DagHeader.joinGroup(d.uuid()))
        .isNotEqualTo(DagHeader.joinGroup(DIAMOND.task("b").uuid()));
  }

  @Test
  void aTaskWithoutTheHeaderHasNoDag() {
    assertThat(DagHeader.of(Signature.create("add"), Config.DEFAULT)).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "{not json",
        "[]",
        "{\"v\":2,\"nodes\":[]}",
        "{\"v\":1}",
        "{\"v\":1,\"nodes\":[]}",
        "{\"v\":1,\"nodes\":[{\"name\":\"a\",\"uuid\":\"u\",\"deps\":[]}]}",
        "{\"v\":1,\"nodes\":[{\"name\":\"a\",\"uuid\":\"u\",\"deps\":[0],\"task\":\"{}\"}]}",
        "{\"v\":1,\"nodes\":[{\"name\":\"a\",\"uuid\":\"u\",\"deps\":[1],\"task\":\"{}\"},"
            + "{\"name\":\"b\",\"uuid\":\"v\",\"deps\":[],\"task\":\"{}\"}]}",
        "{\"v\":1,\"nodes\":[{\"name\":\"a\",\"uuid\":\"u\",\"deps\":[],\"task\":\"{}\"},"
            + "{\"name\":\"b\",\"uuid\":\"v\",\"deps\":[0,0],\"task\":\"{}\"}]}",
        "{\"v\":1,\"nodes\":[{\"name\":\"a\",\"uuid\":\"u\",\"deps\":[],\"task\":\"{}\"},"
            + "{\"name\":\"b\",\"uuid\":\"v\",\"deps\":[\"0\"],\"task\":\"{}\"}]}",
        "{\"v\":1,\"nodes\":[{\"name\":\"a\",\"uuid\":\"u\",\"deps\":[],\"task\":\"{}\"},"
            + "{\"name\":\"b\",\"uuid\":\"v\",\"deps\":[0.5],\"task\":\"{}\"}]}",
        "{\"v\":1,\"nodes\":[{\"name\":\"a\",\"uuid\":\"u\",\"deps\":[],\"task\":\"{}\"},"
            + "{\"name\":\"b\",\"uuid\":\"v\",\"deps\":[-1],\"task\":\"{}\"}]}",
      })
  void aHeaderThatIsNotADagIsRefusedWithTheReason(String header) {
    assertThatThrownBy(() -> read(header))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("header machinery_dag");
  }

  @Test
  void aHeaderThatIsNotAStringIsRefused() {
    Signature carrier =
        Signature.create("add").toBuilder().headers(java.util.Map.of(DagHeader.HEADER, 1L)).build();
    assertThatThrownBy(() -> DagHeader.of(carrier, Config.DEFAULT))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("is not a string");
  }

  @Test
  void aNodeWhoseTaskIsNotItsOwnOrNotAMessageIsRefusedWhenItIsRead() {
    String header = DagHeader.encode(DIAMOND.nodes());
    String swapped =
        header.replace(
            "\"uuid\":\"" + DIAMOND.task("b").uuid() + "\"",
            "\"uuid\":\"" + DIAMOND.task("e").uuid() + "\"");
    assertThat(swapped).isNotEqualTo(header);
    DagHeader dag = read(swapped);
    assertThat(dag.task(2).name()).isEqualTo("multiply");
    assertThatThrownBy(() -> dag.task(1))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("carries task");

    String garbage =
        "{\"v\":1,\"nodes\":[{\"name\":\"a\",\"uuid\":\"u\",\"deps\":[],\"task\":\"{\\\"UUID\\\":1}\"}]}";
    assertThatThrownBy(() -> read(garbage).task(0)).isInstanceOf(MalformedMessageException.class);
  }
}
