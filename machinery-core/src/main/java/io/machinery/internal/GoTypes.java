package io.machinery.internal;

import java.lang.reflect.Array;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Go's argument type names (spec §1.3) and the conversions between JSON values and typed values.
 *
 * <p>Design notes: a message carries each value as plain JSON ({@code Long}, {@code BigInteger},
 * {@code Double}, {@code String}, {@code Boolean}, {@code List}, {@code Map} or null) next to a Go
 * type name. As in Go, values are read by their declared type, never by the JSON token kind: a
 * float64 of 200 arrives as {@code 200}, a {@code []uint8} as a base64 string, a uint64 may exceed
 * {@link Long#MAX_VALUE}. {@link #toTyped} turns a (JSON or Java) value into the typed value of its
 * Go type, with Go's error texts:
 *
 * <ul>
 *   <li>signed ints and uint8..uint32 → {@code Long}; uint and uint64 → {@code BigInteger};
 *   <li>float32/float64 → {@code Double}; bool → {@code Boolean}; string → {@code String};
 *   <li>{@code []uint8}/{@code []byte} → {@code byte[]}; other slices → {@code List} of the
 *       element's typed value.
 * </ul>
 */
public final class GoTypes {
  private GoTypes() {}

  private static final Set<String> SCALARS =
      Set.of(
          "bool", "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32",
          "uint64", "float32", "float64", "string");

  private static final BigInteger UINT64_MAX =
      BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

  /** Whether Go Machinery accepts this type name for arguments and results. */
  public static boolean isSupported(String type) {
    if (type.startsWith("[]")) {
      String element = type.substring(2);
      return element.equals("byte") || SCALARS.contains(element);
    }
    return SCALARS.contains(type);
  }

  /** Go's error text for an unsupported type. */
  public static String unsupported(String type) {
    return type + " is not one of supported types";
  }

  public static boolean isByteSlice(String type) {
    return type.equals("[]uint8") || type.equals("[]byte");
  }

  /**
   * Converts a JSON value or a Java value to the typed value of {@code type}.
   *
   * @throws IllegalArgumentException with Go's message ("X is not int64", "T is not one of
   *     supported types")
   */
  public static @Nullable Object toTyped(String type, @Nullable Object value) {
    if (!isSupported(type)) {
      throw new IllegalArgumentException(unsupported(type));
    }
    if (type.startsWith("[]")) {
      String element = type.substring(2);
      if (isByteSlice(type)) {
        return toBytes(value, type);
      }
      if (value == null) {
        return List.of();
      }
      List<?> items = asList(value);
      if (items == null) {
        throw new IllegalArgumentException(show(value) + " is not " + type);
      }
      List<@Nullable Object> out = new ArrayList<>(items.size());
      for (Object item : items) {
        out.add(scalar(element, item));
      }
      return java.util.Collections.unmodifiableList(out);
    }
    return scalar(type, value);
  }

  private static Object scalar(String type, @Nullable Object value) {
    switch (type) {
      case "bool":
        if (value instanceof Boolean b) {
          return b;
        }
        throw notA(value, type);
      case "string":
        if (value instanceof String s) {
          return s;
        }
        throw notA(value, type);
      case "float32":
      case "float64":
        if (value instanceof Number n) {
          return n.doubleValue();
        }
        throw notA(value, type);
      case "uint":
      case "uint64":
        {
          BigInteger big = integral(value);
          if (big == null || big.signum() < 0 || big.compareTo(UINT64_MAX) > 0) {
            throw notA(value, type);
          }
          return big;
        }
      case "uint8":
      case "uint16":
      case "uint32":
        {
          BigInteger big = integral(value);
          if (big == null || big.signum() < 0 || big.compareTo(UINT64_MAX) > 0) {
            throw notA(value, type);
          }
          int bits = type.equals("uint8") ? 8 : type.equals("uint16") ? 16 : 32;
          // Go's SetUint truncates silently to the width of the target.
          return big.longValue() & ((1L << bits) - 1);
        }
      default: // int, int8, int16, int32, int64
        {
          BigInteger big = integral(value);
          if (big == null || big.bitLength() > 63) {
            throw notA(value, type);
          }
          long v = big.longValue();
          return switch (type) {
            case "int8" -> (long) (byte) v;
            case "int16" -> (long) (short) v;
            case "int32" -> (long) (int) v;
            default -> v;
          };
        }
    }
  }

  /** An integral JSON/Java number as BigInteger, or null when it is not an integer token. */
  private static @Nullable BigInteger integral(@Nullable Object value) {
    if (value instanceof Long
        || value instanceof Integer
        || value instanceof Short
        || value instanceof Byte) {
      return BigInteger.valueOf(((Number) value).longValue());
    }
    if (value instanceof BigInteger b) {
      return b;
    }
    return null;
  }

  private static byte[] toBytes(@Nullable Object value, String type) {
    if (value == null) {
      return new byte[0];
    }
    if (value instanceof byte[] bytes) {
      return bytes.clone();
    }
    if (value instanceof String s) {
      try {
        return Base64.getDecoder().decode(s);
      } catch (IllegalArgumentException e) {
        throw notA(value, type);
      }
    }
    List<?> items = asList(value);
    if (items != null) {
      byte[] out = new byte[items.size()];
      for (int i = 0; i < out.length; i++) {
        BigInteger b = integral(items.get(i));
        if (b == null || b.signum() < 0 || b.bitLength() > 8) {
          throw notA(value, type);
        }
        out[i] = (byte) b.intValue();
      }
      return out;
    }
    throw notA(value, type);
  }

  /** A list view of a List or a Java array (primitive or not); null for anything else. */
  public static @Nullable List<?> asList(@Nullable Object value) {
    if (value instanceof List<?> list) {
      return list;
    }
    if (value != null && value.getClass().isArray() && !(value instanceof byte[])) {
      int length = Array.getLength(value);
      List<Object> out = new ArrayList<>(length);
      for (int i = 0; i < length; i++) {
        out.add(Array.get(value, i));
      }
      return out;
    }
    return null;
  }

  private static IllegalArgumentException notA(@Nullable Object value, String type) {
    return new IllegalArgumentException(show(value) + " is not " + type);
  }

  /**
   * The longest rendering {@link #show} returns; a value from a message must not make a megabyte
   * log line.
   */
  public static final int MAX_SHOWN_CHARS = 1024;

  /**
   * Renders a value the way Go's {@code %v} would, for error texts and {@code toString}; cut after
   * {@value #MAX_SHOWN_CHARS} characters (Go does not cut).
   */
  public static String show(@Nullable Object value) {
    String shown = showFull(value);
    return shown.length() <= MAX_SHOWN_CHARS
        ? shown
        : shown.substring(0, MAX_SHOWN_CHARS) + "…(" + shown.length() + " characters)";
  }

  private static String showFull(@Nullable Object value) {
    if (value == null) {
      return "<nil>";
    }
    if (value instanceof Double d) {
      return GoJson.formatFloat(d, false);
    }
    if (value instanceof byte[] bytes) {
      StringBuilder out = new StringBuilder("[");
      for (int i = 0; i < bytes.length; i++) {
        out.append(i == 0 ? "" : " ").append(bytes[i] & 0xff);
      }
      return out.append(']').toString();
    }
    List<?> list = asList(value);
    if (list != null) {
      StringBuilder out = new StringBuilder("[");
      for (int i = 0; i < list.size(); i++) {
        out.append(i == 0 ? "" : " ").append(showFull(list.get(i)));
      }
      return out.append(']').toString();
    }
    if (value instanceof Map<?, ?> map) {
      StringBuilder out = new StringBuilder("map[");
      boolean first = true;
      for (Map.Entry<?, ?> e : new java.util.TreeMap<>(map).entrySet()) {
        out.append(first ? "" : " ").append(e.getKey()).append(':').append(showFull(e.getValue()));
        first = false;
      }
      return out.append(']').toString();
    }
    return value.toString();
  }

  /**
   * The Go type name for a Java value, as a Java sender or a Java task's result would be typed:
   * {@code Long→int64}, {@code Integer→int32}, {@code Short→int16}, {@code Byte→int8}, {@code
   * Double→float64}, {@code Float→float32}, {@code Boolean→bool}, {@code String→string}, {@code
   * byte[]→[]uint8}, {@code BigInteger→uint64} (non-negative, up to 2^64-1), arrays and non-empty
   * lists of those → {@code []T}.
   *
   * @throws IllegalArgumentException when the value has no Go type Go Machinery supports
   */
  public static String typeOf(@Nullable Object value) {
    if (value == null) {
      throw new IllegalArgumentException(
          "null has no Go type; use Arg.of(type, null) with an explicit type");
    }
    if (value instanceof byte[]) {
      return "[]uint8";
    }
    String scalar = scalarTypeOf(value.getClass());
    if (scalar != null) {
      if (value instanceof BigInteger b && (b.signum() < 0 || b.compareTo(UINT64_MAX) > 0)) {
        throw new IllegalArgumentException(b + " does not fit uint64 or int64");
      }
      return scalar;
    }
    if (value.getClass().isArray()) {
      String element = scalarTypeOf(boxed(value.getClass().getComponentType()));
      if (element != null) {
        return "[]" + element;
      }
    }
    if (value instanceof List<?> list && !list.isEmpty() && list.get(0) != null) {
      String element = scalarTypeOf(list.get(0).getClass());
      if (element != null) {
        for (Object item : list) {
          if (item == null || !element.equals(scalarTypeOf(item.getClass()))) {
            throw new IllegalArgumentException(
                "a list of mixed element types has no Go type: " + list);
          }
        }
        return "[]" + element;
      }
    }
    throw new IllegalArgumentException(
        value.getClass().getName()
            + " has no Go Machinery type; supported are bool, int8..int64, uint64 (BigInteger), float32, float64,"
            + " string, byte[] and arrays/lists of those (encode other objects as a JSON string)");
  }

  private static @Nullable String scalarTypeOf(Class<?> type) {
    if (type == Long.class) return "int64";
    if (type == Integer.class) return "int32";
    if (type == Short.class) return "int16";
    if (type == Byte.class) return "int8";
    if (type == Double.class) return "float64";
    if (type == Float.class) return "float32";
    if (type == Boolean.class) return "bool";
    if (type == String.class) return "string";
    if (type == BigInteger.class) return "uint64";
    return null;
  }

  public static Class<?> boxed(Class<?> type) {
    if (!type.isPrimitive()) return type;
    if (type == long.class) return Long.class;
    if (type == int.class) return Integer.class;
    if (type == short.class) return Short.class;
    if (type == byte.class) return Byte.class;
    if (type == double.class) return Double.class;
    if (type == float.class) return Float.class;
    if (type == boolean.class) return Boolean.class;
    if (type == char.class) return Character.class;
    return Void.class;
  }
}
