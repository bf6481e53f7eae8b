@NullMarked
package io.machinery;

import org.jspecify.annotations.NullMarked;
