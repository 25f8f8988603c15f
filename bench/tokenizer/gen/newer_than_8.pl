#!/usr/bin/perl
# Prints (hex, one per line) every code point that was NOT assigned in
# Unicode 8.0, according to Perl's Unicode::UCD (DerivedAge data).
use strict; use warnings;
use Unicode::UCD qw(prop_invlist);
my %old;
for my $v (qw(1_1 2_0 2_1 3_0 3_1 3_2 4_0 4_1 5_0 5_1 5_2 6_0 6_1 6_2 6_3 7_0 8_0)) {
    my @l = prop_invlist("Age=V$v");
    die "no Age=V$v in this perl\n" unless @l;
    for (my $i = 0; $i < @l; $i += 2) {
        my $hi = $i + 1 < @l ? $l[$i + 1] - 1 : 0x10FFFF;
        $old{$_} = 1 for $l[$i] .. $hi;
    }
}
for my $c (0 .. 0x10FFFF) {
    next if $c >= 0xD800 && $c <= 0xDFFF;
    printf "%X\n", $c unless $old{$c};
}
