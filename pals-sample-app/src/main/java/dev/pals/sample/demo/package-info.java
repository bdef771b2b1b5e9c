/**
 * The demo: several instances of the sample service compete for the same job and accounts, and a
 * report shows whether the locks kept their promises.
 */
@NullMarked
package dev.pals.sample.demo;

import org.jspecify.annotations.NullMarked;
