@NullMarked
package io.machinery.embedded;

import org.jspecify.annotations.NullMarked;
