package io.machinery;

import io.machinery.internal.GoTypes;
import java.util.Arrays;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One value a task returned, with its Go type name: Go's {@code tasks.TaskResult} ({@code
 * {"Type","Value"}}).
 *
 * <p>Immutable. Go writes the reflect type of the actual value, which may be a name Machinery
 * cannot read back ({@code main.MyStruct}); {@link #typedValue()} then fails with Go's message.
 */
public final class TaskResult {
  private final String type;
  private final @Nullable Object value;

  private TaskResult(String type, @Nullable Object value) {
    this.type = Objects.requireNonNull(type, "type");
    this.value = value instanceof byte[] b ? b.clone() : value;
  }

  /**
   * Creates a result with an explicit Go type name, as read from a store or given by a task.
   *
   * @param type the Go type name, such as {@code "int64"} or {@code "[]string"}
   * @param value the value; null for Go's nil
   * @return the result
   * @throws NullPointerException if {@code type} is null
   */
  public static TaskResult of(String type, @Nullable Object value) {
    return new TaskResult(type, value);
  }

  /**
   * Creates a result typed from its Java value, as {@link Arg#typeOf(Object)} types an argument.
   *
   * @param value the value
   * @return the result
   * @throws IllegalArgumentException if the value has no Go type
   */
  public static TaskResult of(Object value) {
    return new TaskResult(GoTypes.typeOf(value), value);
  }

  /**
   * Returns the Go type name.
   *
   * @return the type name as written on the wire
   */
  public String type() {
    return type;
  }

  /**
   * Returns the value as stored: JSON numbers, strings, lists and so on (a copy for {@code
   * byte[]}).
   *
   * @return the raw value, or null for Go's nil
   */
  public @Nullable Object value() {
    return value instanceof byte[] b ? b.clone() : value;
  }

  /**
   * Returns the value read by its declared type (see {@link Arg#typedValue()}).
   *
   * @return the typed value, such as a {@code Long} for {@code int64}
   * @throws IllegalArgumentException if the type is one Machinery cannot read, or the value does
   *     not fit it
   */
  public @Nullable Object typedValue() {
    return GoTypes.toTyped(type, value);
  }

  /**
   * Returns this result as an argument (for success callbacks and chord callbacks).
   *
   * @return an argument with the same type and value
   */
  public Arg toArg() {
    return Arg.of(type, value);
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof TaskResult other
        && type.equals(other.type)
        && Arg.valueEquals(value, other.value);
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
