@NullMarked
package io.machinery.spi;

import org.jspecify.annotations.NullMarked;
