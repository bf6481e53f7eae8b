package io.machinery;

import io.machinery.internal.GoTypes;
import java.util.Arrays;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One value a task returned, with its Go type name: Go's {@code tasks.TaskResult} ({@code {"Type","Value"}}).
 *
 * <p>Immutable. Go writes the reflect type of the actual value, which may be a name Machinery cannot read back
 * ({@code main.MyStruct}); {@link #typedValue()} then fails with Go's message.
 */
public final class TaskResult {
  private final String type;
  private final @Nullable Object value;

  private TaskResult(String type, @Nullable Object value) {
    this.type = Objects.requireNonNull(type, "type");
    this.value = value instanceof byte[] b ? b.clone() : value;
  }

  public static TaskResult of(String type, @Nullable Object value) {
    return new TaskResult(type, value);
  }

  /** A result typed from its Java value, as {@link Arg#typeOf(Object)}. */
  public static TaskResult of(Object value) {
    return new TaskResult(GoTypes.typeOf(value), value);
  }

  public String type() {
    return type;
  }

  public @Nullable Object value() {
    return value instanceof byte[] b ? b.clone() : value;
  }

  /** The value read by its declared type (see {@link Arg#typedValue()}). */
  public @Nullable Object typedValue() {
    return GoTypes.toTyped(type, value);
  }

  /** This result as an argument (for success callbacks and chord callbacks). */
  public Arg toArg() {
    return Arg.of(type, value);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TaskResult other && type.equals(other.type) && Arg.valueEquals(value, other.value);
  }

  @Override
  public int hashCode() {
    return Objects.hash(type, value instanceof byte[] b ? Arrays.hashCode(b) : value);
  }

  @Override
  public String toString() {
    return type + " " + GoTypes.show(value);
  }
}
