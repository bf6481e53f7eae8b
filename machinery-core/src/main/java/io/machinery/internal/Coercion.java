package io.machinery.internal;

import java.lang.reflect.Array;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Converts typed values ({@link GoTypes#toTyped}) to Java parameter types, as Go's {@code
 * reflect.Call} would accept them: an {@code int64} fits {@code long}, {@code int} (when in range)
 * or {@code Long}; a {@code []int64} fits {@code long[]} or {@code List<Long>}. A mismatch fails
 * with Go's text {@code reflect: Call using int64 as type string}.
 */
public final class Coercion {
  private Coercion() {}

  private static final Set<Class<?>> SCALARS =
      Set.of(
          long.class,
          Long.class,
          int.class,
          Integer.class,
          short.class,
          Short.class,
          byte.class,
          Byte.class,
          double.class,
          Double.class,
          float.class,
          Float.class,
          boolean.class,
          Boolean.class,
          String.class,
          BigInteger.class,
          Object.class,
          byte[].class);

  /** Fails at registration for a parameter type no Go argument can ever fill. */
  public static void checkSupported(Type type) {
    Class<?> raw = raw(type);
    if (SCALARS.contains(raw)) {
      return;
    }
    if (raw.isArray() && SCALARS.contains(raw.getComponentType())) {
      return;
    }
    if (List.class.isAssignableFrom(raw) || raw == Collection.class || raw == Iterable.class) {
      Type element = elementType(type);
      if (element == null || SCALARS.contains(raw(element))) {
        return;
      }
    }
    throw new IllegalArgumentException(
        "parameter type "
            + type.getTypeName()
            + " cannot receive a Go Machinery argument; use long, int, double,"
            + " float, boolean, String, BigInteger, byte[], arrays or Lists of those, or Object");
  }

  public static boolean isSequence(Type type) {
    Class<?> raw = raw(type);
    return (raw.isArray() && raw != byte[].class)
        || List.class.isAssignableFrom(raw)
        || raw == Collection.class;
  }

  public static @Nullable Object convert(@Nullable Object typed, String goType, Type target) {
    Class<?> raw = raw(target);
    if (raw == Object.class) {
      return typed;
    }
    if (raw == byte[].class) {
      if (typed instanceof byte[]) return typed;
      throw mismatch(goType, target);
    }
    if (raw.isArray()) {
      if (!(typed instanceof List<?> list)) throw mismatch(goType, target);
      Class<?> component = raw.getComponentType();
      Object array = Array.newInstance(component, list.size());
      String elementGoType = goType.startsWith("[]") ? goType.substring(2) : goType;
      for (int i = 0; i < list.size(); i++) {
        Array.set(array, i, scalar(list.get(i), elementGoType, component, target));
      }
      return array;
    }
    if (List.class.isAssignableFrom(raw) || raw == Collection.class || raw == Iterable.class) {
      if (!(typed instanceof List<?> list)) throw mismatch(goType, target);
      Type element = elementType(target);
      Class<?> elementClass = element == null ? Object.class : raw(element);
      String elementGoType = goType.startsWith("[]") ? goType.substring(2) : goType;
      List<@Nullable Object> out = new ArrayList<>(list.size());
      for (Object item : list) {
        out.add(scalar(item, elementGoType, elementClass, target));
      }
      return java.util.Collections.unmodifiableList(out);
    }
    return scalar(typed, goType, raw, target);
  }

  /** Collects the trailing arguments of a variadic call into the last parameter's array or list. */
  public static Object collectVarargs(
      List<@Nullable Object> typed, List<String> goTypes, Type target) {
    Class<?> raw = raw(target);
    if (raw.isArray()) {
      Class<?> component = raw.getComponentType();
      Object array = Array.newInstance(component, typed.size());
      for (int i = 0; i < typed.size(); i++) {
        Array.set(array, i, scalar(typed.get(i), goTypes.get(i), component, component));
      }
      return array;
    }
    Type element = elementType(target);
    Class<?> elementClass = element == null ? Object.class : raw(element);
    List<@Nullable Object> out = new ArrayList<>(typed.size());
    for (int i = 0; i < typed.size(); i++) {
      out.add(scalar(typed.get(i), goTypes.get(i), elementClass, elementClass));
    }
    return java.util.Collections.unmodifiableList(out);
  }

  private static @Nullable Object scalar(
      @Nullable Object v, String goType, Class<?> raw, Type reported) {
    if (raw == Object.class) {
      return v;
    }
    if (v instanceof Long l) {
      if (raw == long.class || raw == Long.class) return l;
      if ((raw == int.class || raw == Integer.class) && l == (int) (long) l) return (int) (long) l;
      if ((raw == short.class || raw == Short.class) && l == (short) (long) l)
        return (short) (long) l;
      if ((raw == byte.class || raw == Byte.class) && l == (byte) (long) l) return (byte) (long) l;
      if (raw == BigInteger.class) return BigInteger.valueOf(l);
      if (raw == Object.class) return l;
      if ((raw == int.class
          || raw == Integer.class
          || raw == short.class
          || raw == Short.class
          || raw == byte.class
          || raw == Byte.class)) {
        throw new IllegalArgumentException(
            l + " overflows " + raw.getSimpleName() + " (Go type " + goType + ")");
      }
    } else if (v instanceof BigInteger b) {
      if (raw == BigInteger.class) return b;
      if ((raw == long.class || raw == Long.class) && b.bitLength() <= 63) return b.longValue();
      if (raw == long.class || raw == Long.class) {
        throw new IllegalArgumentException(
            b + " overflows long (Go type " + goType + "); use a BigInteger parameter");
      }
    } else if (v instanceof Double d) {
      if (raw == double.class || raw == Double.class) return d;
      if (raw == float.class || raw == Float.class) return d.floatValue();
    } else if (v instanceof Boolean b) {
      if (raw == boolean.class || raw == Boolean.class) return b;
    } else if (v instanceof String s) {
      if (raw == String.class) return s;
    } else if (v instanceof byte[] bytes) {
      if (raw == byte[].class) return bytes;
    }
    throw mismatch(goType, reported);
  }

  private static IllegalArgumentException mismatch(String goType, Type target) {
    return new IllegalArgumentException(
        "reflect: Call using " + goType + " as type " + target.getTypeName());
  }

  private static Class<?> raw(Type type) {
    if (type instanceof Class<?> c) return c;
    if (type instanceof ParameterizedType p) return (Class<?>) p.getRawType();
    return Object.class;
  }

  private static @Nullable Type elementType(Type type) {
    if (type instanceof ParameterizedType p && p.getActualTypeArguments().length == 1) {
      Type arg = p.getActualTypeArguments()[0];
      if (arg instanceof java.lang.reflect.WildcardType w) {
        return w.getUpperBounds().length == 1 ? w.getUpperBounds()[0] : null;
      }
      return arg;
    }
    return null;
  }
}
