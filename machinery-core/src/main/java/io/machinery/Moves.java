package io.machinery;

import io.machinery.config.Redaction;
import java.util.function.BinaryOperator;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * What {@link MigratingBroker#fromConfig} and {@link MigratingBackend#fromConfig} share: reading a
 * move between two components of one kind from a configuration's two URLs.
 */
final class Moves {
  private Moves() {}

  /**
   * The component {@code newUrl} names, or, when {@code oldUrl} is set, both paired.
   *
   * @param kind "broker" or "result backend", for the error
   * @param newUrl the URL the cluster moves to (or the only one)
   * @param oldUrl the URL it moves away from; blank when no move is under way
   * @param newSetting what users call the new URL's setting
   * @param oldSetting what users call the old URL's setting
   * @param buildNew builds the new (or only) component
   * @param buildOld builds the old component
   * @param pair pairs the old and the new component into one that owns both
   * @param close closes the new component when the old one cannot be built
   * @throws IllegalArgumentException if the old URL is the new one (a move to itself)
   */
  static <T> T fromConfig(
      String kind,
      String newUrl,
      String oldUrl,
      String newSetting,
      String oldSetting,
      Supplier<T> buildNew,
      Supplier<T> buildOld,
      BinaryOperator<T> pair,
      Consumer<T> close) {
    if (oldUrl.isBlank()) {
      return buildNew.get();
    }
    if (oldUrl.strip().equals(newUrl.strip())) {
      throw new IllegalArgumentException(
          oldSetting
              + " names "
              + newSetting
              + " itself ("
              + Redaction.redactUrl(oldUrl)
              + "): a migration moves to another "
              + kind
              + "; leave it empty when none is under way");
    }
    T fresh = buildNew.get();
    try {
      return pair.apply(buildOld.get(), fresh);
    } catch (RuntimeException e) {
      close.accept(fresh);
      throw e;
    }
  }
}
