package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.util.List;
import org.junit.jupiter.api.Test;

class TaskFunctionTest {
  public static final class Tasks {
    public long add(long... numbers) {
      long sum = 0;
      for (long n : numbers) sum += n;
      return sum;
    }

    public int total(List<Integer> numbers) {
      return numbers.stream().mapToInt(Integer::intValue).sum();
    }

    public String whoAmI(TaskContext context, String greeting) {
      return greeting + " " + context.signature().name() + " #" + context.attempt();
    }

    public void nothing() {}
  }

  private static final TaskContext CONTEXT =
      new TaskContext() {
        @Override
        public Signature signature() {
          return Signature.create("who");
        }

        @Override
        public int attempt() {
          return 1;
        }

        @Override
        public boolean isCancelled() {
          return false;
        }
      };

  private static Object call(TaskFunction fn, Arg... args) throws Exception {
    List<Arg> list = List.of(args);
    List<Object> typed = list.stream().map(Arg::typedValue).toList();
    return fn.invoke(CONTEXT, fn.bind(list, typed));
  }

  @Test
  void aVarargsMethodCollectsEveryArgument() throws Exception {
    TaskFunction add = TaskFunction.fromMethod(new Tasks(), "add");
    assertThat(add.isVarargs()).isTrue();
    assertThat(call(add, Arg.of(1L), Arg.of(2L), Arg.of("int32", 3L))).isEqualTo(6L);
    assertThat(call(add)).isEqualTo(0L);
  }

  @Test
  void genericListParametersAreHonoured() throws Exception {
    TaskFunction total = TaskFunction.fromMethod(new Tasks(), "total");
    assertThat(call(total, Arg.of("[]int64", List.of(1L, 2L, 3L)))).isEqualTo(6);
  }

  @Test
  void aContextParameterIsNotAnArgument() throws Exception {
    TaskFunction who = TaskFunction.fromMethod(new Tasks(), "whoAmI");
    assertThat(call(who, Arg.of("hello"))).isEqualTo("hello who #1");
  }

  @Test
  void wrongTypesAndCountsFailWithGosReflectTexts() {
    TaskFunction concat = TaskFunction.of(String.class, String.class, (a, b) -> a + b);
    assertThatThrownBy(() -> call(concat, Arg.of("a")))
        .hasMessage("reflect: Call with too few input arguments");
    assertThatThrownBy(() -> call(concat, Arg.of("a"), Arg.of("b"), Arg.of("c")))
        .hasMessage("reflect: Call with too many input arguments");
    assertThatThrownBy(() -> call(concat, Arg.of("a"), Arg.of(1L)))
        .hasMessage("reflect: Call using int64 as type java.lang.String");
  }

  @Test
  void narrowingChecksTheRange() throws Exception {
    TaskFunction half = TaskFunction.of(int.class, n -> n / 2);
    assertThat(call(half, Arg.of(10L))).isEqualTo(5);
    assertThatThrownBy(() -> call(half, Arg.of(Long.MAX_VALUE)))
        .hasMessageContaining("overflows int");
    TaskFunction big = TaskFunction.of(BigInteger.class, n -> n);
    assertThat(call(big, Arg.of("uint64", new BigInteger("18446744073709551615"))))
        .isEqualTo(new BigInteger("18446744073709551615"));
  }

  @Test
  void unsupportedParameterTypesAreRefusedAtRegistration() {
    assertThatThrownBy(() -> TaskFunction.of(Thread.class, t -> null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cannot receive");
    assertThatThrownBy(() -> TaskFunction.fromMethod(new Tasks(), "missing"))
        .hasMessageContaining("no public method");
  }

  @Test
  void aVoidMethodHasNoResults() throws Exception {
    assertThat(call(TaskFunction.fromMethod(new Tasks(), "nothing"))).isNull();
  }
}
