package io.machinery;

import io.machinery.internal.GoJson;
import io.machinery.internal.GoTypes;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One positional task argument: a Go type name ({@code "int64"}, {@code "[]string"}, ...) and a
 * value. Go's {@code tasks.Arg}.
 *
 * <p>Immutable and thread-safe. {@link #name()} is informational only: arguments are positional.
 * The value is kept as given or as read from the wire ({@code Long}, {@code BigInteger}, {@code
 * Double}, {@code String}, {@code Boolean}, {@code byte[]}, lists); {@link #typedValue()} reads it
 * by its declared type, as Go does.
 *
 * <pre>{@code
 * Arg.of(1L)                   // {"Name":"","Type":"int64","Value":1}
 * Arg.of("uint64", new BigInteger("18446744073709551615"))
 * Arg.of(new byte[] {1, 2})   // {"Type":"[]uint8","Value":"AQI="}
 * }</pre>
 */
public final class Arg {
  private final String name;
  private final String type;
  private final @Nullable Object value;

  private Arg(String name, String type, @Nullable Object value) {
    this.name = Objects.requireNonNull(name, "name");
    this.type = Objects.requireNonNull(type, "type");
    this.value = normalise(value);
  }

  /**
   * Creates an argument whose Go type is derived from the Java value (see the table on {@link
   * #typeOf(Object)}).
   *
   * @param value the value
   * @return the argument, without a name
   * @throws IllegalArgumentException if the value has no Go type
   */
  public static Arg of(Object value) {
    return new Arg("", GoTypes.typeOf(value), value);
  }

  /**
   * Creates an argument with an explicit Go type name; the value is checked when the task is sent.
   *
   * @param type the Go type name, such as {@code "uint8"} or {@code "[]string"}
   * @param value the value; null for Go's nil
   * @return the argument, without a name
   */
  public static Arg of(String type, @Nullable Object value) {
    return new Arg("", type, value);
  }

  /**
   * Creates a named argument (the name is informational only, as in Go).
   *
   * @param name the argument's name ({@code Name})
   * @param type the Go type name
   * @param value the value; null for Go's nil
   * @return the argument
   */
  public static Arg named(String name, String type, @Nullable Object value) {
    return new Arg(name, type, value);
  }

  /**
   * The Go type name Machinery uses for a Java value: {@code Long→int64}, {@code Integer→int32},
   * {@code Short→int16}, {@code Byte→int8}, {@code Double→float64}, {@code Float→float32}, {@code
   * Boolean→bool}, {@code String→string}, {@code byte[]→[]uint8}, {@code BigInteger→uint64}, and
   * arrays or non-empty lists of those to {@code []T}.
   *
   * @param value the value
   * @return the Go type name
   * @throws IllegalArgumentException for any other value
   */
  public static String typeOf(Object value) {
    return GoTypes.typeOf(value);
  }

  /**
   * Returns the argument's name ({@code Name}).
   *
   * @return the name; empty when unnamed
   */
  public String name() {
    return name;
  }

  /**
   * Returns the Go type name ({@code Type}).
   *
   * @return the type name as written on the wire
   */
  public String type() {
    return type;
  }

  /**
   * Returns the value as given or as decoded from JSON ({@code Value}).
   *
   * @return the raw value (a copy for a {@code byte[]}), or null for Go's nil
   */
  public @Nullable Object value() {
    return value instanceof byte[] bytes ? bytes.clone() : value;
  }

  /**
   * The value read by its declared type: {@code Long} for signed ints and uint8..uint32, {@code
   * BigInteger} for uint/uint64, {@code Double} for floats, {@code byte[]} for {@code []uint8},
   * lists for other slices.
   *
   * @return the typed value, or null for Go's nil
   * @throws IllegalArgumentException with Go's error text when the type is unsupported or the value
   *     does not fit it
   */
  public @Nullable Object typedValue() {
    return GoTypes.toTyped(type, value);
  }

  /**
   * Returns this argument under another name.
   *
   * @param newName the new name
   * @return a new argument with the same type and value
   */
  public Arg withName(String newName) {
    return new Arg(newName, type, value);
  }

  private static @Nullable Object normalise(@Nullable Object value) {
    return normalise(value, 0);
  }

  /**
   * One stack frame per level, and no deeper than the decoder admits ({@link
   * GoJson#MAX_NESTING_DEPTH}): a value nested 10,000 deep is refused here instead of overflowing
   * the stack of whoever builds the argument.
   */
  private static @Nullable Object normalise(@Nullable Object value, int depth) {
    if (value instanceof Integer || value instanceof Short || value instanceof Byte) {
      return ((Number) value).longValue();
    }
    if (value instanceof Float f) {
      return Double.valueOf(Float.toString(f));
    }
    if (value instanceof byte[] bytes) {
      return bytes.clone();
    }
    if (value instanceof BigInteger b && b.bitLength() <= 63) {
      return b.longValue();
    }
    List<?> list =
        value instanceof List<?> l
            ? l
            : value != null && value.getClass().isArray() ? GoTypes.asList(value) : null;
    if (list == null) {
      return value;
    }
    if (depth >= GoJson.MAX_NESTING_DEPTH) {
      throw new IllegalArgumentException(
          "argument value is nested deeper than "
              + GoJson.MAX_NESTING_DEPTH
              + " lists; Go's argument types are flat");
    }
    List<@Nullable Object> out = new ArrayList<>(list.size());
    for (Object item : list) {
      out.add(normalise(item, depth + 1));
    }
    return Collections.unmodifiableList(out);
  }

  @Override
  public boolean equals(@Nullable Object o) {
    if (!(o instanceof Arg other)) {
      return false;
    }
    return name.equals(other.name) && type.equals(other.type) && valueEquals(value, other.value);
  }

  static boolean valueEquals(@Nullable Object a, @Nullable Object b) {
    if (a instanceof byte[] x && b instanceof byte[] y) {
      return Arrays.equals(x, y);
    }
    return Objects.equals(a, b);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, type, value instanceof byte[] b ? Arrays.hashCode(b) : value);
  }

  @Override
  public String toString() {
    return "Arg{" + (name.isEmpty() ? "" : name + " ") + type + " " + GoTypes.show(value) + "}";
  }
}
