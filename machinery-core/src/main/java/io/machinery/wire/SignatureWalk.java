package io.machinery.wire;

import io.machinery.Signature;
import java.util.ArrayDeque;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Writes a signature and the signatures nested in it in Go's field order, without recursion: the
 * one walk behind both of {@link WireCodec}'s writers ({@code PlainJson} and the Jackson path).
 *
 * <p>Design notes. A chain nests one signature per link, up to {@link
 * io.machinery.internal.GoJson#MAX_MESSAGE_DEPTH} JSON levels (4,999 tasks), and the worker sends
 * each next link from a task thread, a virtual one by default: a recursive writer needed a stack
 * frame or two per link. Here the open signatures are a stack on the heap ({@code Open}); a
 * signature without callbacks (every plain task, a chain's last link) is written without one. The
 * writer supplies the text of each part; the walk decides their order and tells the writer how deep
 * each signature's object is, counted as a JSON reader counts nesting (the message's own object is
 * at 1).
 */
final class SignatureWalk {
  private SignatureWalk() {}

  /** The parts of a signature's text, in the order the walk asks for them. */
  interface Writer {
    /**
     * Writes the opening brace and the fields before {@code OnSuccess}.
     *
     * @param depth the JSON depth of the signature's object
     * @return false to give up the whole document
     */
    boolean head(Signature s, int depth);

    /**
     * Writes a callback field's key ({@code OnSuccess}, {@code OnError}, {@code ChordCallback}).
     */
    void key(String field);

    /** Writes {@code null}: an absent callback list or chord callback. */
    void absent();

    /** Writes {@code [}. */
    void startList();

    /** Writes what separates the elements of a list (a comma, where the writer does not). */
    void nextElement();

    /** Writes {@code ]}. */
    void endList();

    /**
     * Writes the fields after {@code ChordCallback} and the closing brace.
     *
     * @return false to give up the whole document
     */
    boolean tail(Signature s);
  }

  /**
   * Writes {@code root} and everything nested in it.
   *
   * @return false when the writer gave up
   */
  static boolean write(Signature root, Writer w) {
    if (isLeaf(root)) {
      return writeLeaf(root, 1, w);
    }
    if (!w.head(root, 1)) {
      return false;
    }
    ArrayDeque<Open> open = new ArrayDeque<>();
    open.push(new Open(root, 1));
    while (!open.isEmpty()) {
      Open at = open.peek();
      Signature next = at.next(w);
      if (next == null) {
        open.pop();
        if (!w.tail(at.signature)) {
          return false;
        }
        continue;
      }
      int depth = at.childDepth();
      if (isLeaf(next)) {
        if (!writeLeaf(next, depth, w)) {
          return false;
        }
      } else {
        if (!w.head(next, depth)) {
          return false;
        }
        open.push(new Open(next, depth));
      }
    }
    return true;
  }

  private static boolean isLeaf(Signature s) {
    return !s.hasOnSuccess() && !s.hasOnError() && s.chordCallback() == null;
  }

  /** A signature whose callback fields are all null. */
  private static boolean writeLeaf(Signature s, int depth, Writer w) {
    if (!w.head(s, depth)) {
      return false;
    }
    w.key("OnSuccess");
    w.absent();
    w.key("OnError");
    w.absent();
    w.key("ChordCallback");
    w.absent();
    return w.tail(s);
  }

  /** A signature whose head is written and whose callbacks are being written. */
  private static final class Open {
    private static final int ON_SUCCESS = 0;
    private static final int ON_ERROR = 1;
    private static final int CHORD_CALLBACK = 2;
    private static final int DONE = 3;

    final Signature signature;
    private final int depth;

    /** The callback field being written; {@link #list} and {@link #index} within it. */
    private int field = ON_SUCCESS;

    private @Nullable List<Signature> list;
    private int index = -1;

    Open(Signature signature, int depth) {
      this.signature = signature;
      this.depth = depth;
    }

    /** The depth of the signature {@link #next} returned: in a list, or the chord callback. */
    int childDepth() {
      return field == DONE ? depth + 1 : depth + 2;
    }

    /**
     * Writes this signature's callback fields up to its next nested signature, which it returns for
     * the caller to write; null when they are all written.
     */
    @Nullable Signature next(Writer w) {
      while (true) {
        switch (field) {
          case ON_SUCCESS, ON_ERROR -> {
            if (index < 0) {
              boolean success = field == ON_SUCCESS;
              w.key(success ? "OnSuccess" : "OnError");
              boolean present = success ? signature.hasOnSuccess() : signature.hasOnError();
              if (!present) {
                w.absent();
                field++;
                continue;
              }
              list = success ? signature.onSuccess() : signature.onError();
              w.startList();
              index = 0;
            }
            List<Signature> elements = java.util.Objects.requireNonNull(list);
            if (index < elements.size()) {
              if (index > 0) {
                w.nextElement();
              }
              return elements.get(index++);
            }
            w.endList();
            list = null;
            index = -1;
            field++;
          }
          case CHORD_CALLBACK -> {
            w.key("ChordCallback");
            field = DONE;
            Signature callback = signature.chordCallback();
            if (callback != null) {
              return callback;
            }
            w.absent();
          }
          default -> {
            return null;
          }
        }
      }
    }
  }
}
