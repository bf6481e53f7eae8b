package io.machinery.cli;

import io.machinery.Arg;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Reads {@code machinery send}'s arguments, {@code TYPE:VALUE} with Go's type names: {@code
 * int64:3}, {@code string:hi}, {@code bool:true}, {@code float64:1.5}, {@code
 * uint64:18446744073709551615}, slices as comma-separated values ({@code []int64:1,2,3}, {@code
 * []string:a,b}; {@code []int64:} is empty) and {@code []uint8} as base64, as Go's JSON writes it.
 * Each argument is checked against its type ({@link Arg#typedValue()}, Go's range and type errors)
 * before anything is sent.
 */
final class GoArgs {
  private GoArgs() {}

  static List<Arg> parse(List<String> texts) {
    List<Arg> args = new ArrayList<>();
    for (String text : texts) {
      args.add(parse(text));
    }
    return args;
  }

  static Arg parse(String text) {
    int colon = text.indexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException(
          "argument '" + text + "' has no Go type: write TYPE:VALUE, e.g. int64:3 or string:hi");
    }
    String type = text.substring(0, colon);
    String value = text.substring(colon + 1);
    Object parsed;
    try {
      if (type.equals("[]uint8") || type.equals("[]byte")) {
        parsed = Base64.getDecoder().decode(value);
      } else if (type.startsWith("[]")) {
        List<@Nullable Object> items = new ArrayList<>();
        if (!value.isEmpty()) {
          for (String item : value.split(",", -1)) {
            items.add(scalar(type.substring(2), item));
          }
        }
        parsed = items;
      } else {
        parsed = scalar(type, value);
      }
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "argument '" + text + "': '" + value + "' is not a " + type);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("argument '" + text + "': " + e.getMessage(), e);
    }
    Arg arg = Arg.of(type, parsed);
    try {
      arg.typedValue();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("argument '" + text + "': " + e.getMessage(), e);
    }
    return arg;
  }

  /**
   * A Go worker would fail to decode it (Go's {@code json: cannot unmarshal number N into Go value
   * of type T}).
   */
  private static Long ranged(String type, String value, long min, long max) {
    long n = Long.parseLong(value.trim());
    if (n < min || n > max) {
      throw new IllegalArgumentException(
          "json: cannot unmarshal number " + n + " into Go value of type " + type);
    }
    return n;
  }

  /**
   * A decimal number (no NaN, Infinity or hex, which JSON cannot carry) within the type's range:
   * Go's decoder refuses a float32 over about 3.4e38 and any number that overflows a float64.
   */
  private static Double floating(String type, String value) {
    if (!value.matches("[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?")) {
      throw new NumberFormatException(value);
    }
    double n = Double.parseDouble(value);
    if (Double.isInfinite(n) || (type.equals("float32") && Math.abs(n) > Float.MAX_VALUE)) {
      throw new IllegalArgumentException(
          "json: cannot unmarshal number " + value + " into Go value of type " + type);
    }
    return n;
  }

  private static Object scalar(String type, String value) {
    return switch (type) {
      case "int", "int64" -> Long.parseLong(value.trim());
      case "int8" -> ranged(type, value, Byte.MIN_VALUE, Byte.MAX_VALUE);
      case "int16" -> ranged(type, value, Short.MIN_VALUE, Short.MAX_VALUE);
      case "int32" -> ranged(type, value, Integer.MIN_VALUE, Integer.MAX_VALUE);
      case "uint8" -> ranged(type, value, 0, 0xFF);
      case "uint16" -> ranged(type, value, 0, 0xFFFF);
      case "uint32" -> ranged(type, value, 0, 0xFFFF_FFFFL);
      case "uint", "uint64" -> {
        BigInteger n = new BigInteger(value.trim());
        if (n.signum() < 0 || n.bitLength() > 64) {
          throw new IllegalArgumentException(
              "json: cannot unmarshal number " + n + " into Go value of type " + type);
        }
        yield n;
      }
      case "float32", "float64" -> floating(type, value.trim());
      case "bool" ->
          switch (value.trim()) {
            case "true" -> Boolean.TRUE;
            case "false" -> Boolean.FALSE;
            default -> throw new NumberFormatException(value);
          };
      case "string" -> value;
      default ->
          throw new IllegalArgumentException(
              "unsupported Go type '"
                  + type
                  + "': use int, int8..int64, uint,"
                  + " uint8..uint64, float32, float64, bool, string, []uint8 (base64) or a slice []T of those");
    };
  }
}
