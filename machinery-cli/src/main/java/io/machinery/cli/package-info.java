/**
 * The {@code machinery} command line: {@link io.machinery.cli.MachineryCli}. Everything else is
 * package-private.
 */
@NullMarked
package io.machinery.cli;

import org.jspecify.annotations.NullMarked;
