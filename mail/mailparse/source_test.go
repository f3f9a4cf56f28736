package mailparse

import (
	"net/netip"
	"testing"
)

func TestFindSource(t *testing.T) {
	const date = "; Tue, 3 Sep 2024 12:04:05 +0000"
	trusted := []netip.Prefix{netip.MustParsePrefix("185.199.108.0/24"), netip.MustParsePrefix("2a01:4f8:1::/48")}
	tests := []struct {
		name     string
		received []string // top first
		wantIP   string
		wantHop  int
		reason   string
	}{
		{
			name:     "direct",
			received: []string{"from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.example.org (Postfix) with ESMTPS id A" + date},
			wantIP:   "209.85.220.41", wantHop: 0, reason: "first-untrusted-hop",
		},
		{
			name: "through trusted relays",
			received: []string{
				"from relay2.example.org (relay2.example.org [185.199.108.11]) by mx.example.org (Postfix) with ESMTP id A" + date,
				"from relay1.example.org (relay1.example.org [185.199.108.10]) by relay2.example.org (Postfix) with ESMTP id B" + date,
				"from spammer.example (unknown [45.13.22.7]) by relay1.example.org (Postfix) with SMTP id C" + date,
			},
			wantIP: "45.13.22.7", wantHop: 2, reason: "first-untrusted-hop",
		},
		{
			name: "internal hops skipped",
			received: []string{
				"from EXCH01.corp.local (10.0.0.5) by EXCH02.corp.local (10.0.0.6) with Microsoft SMTP Server id 15.1.2507.23" + date,
				"from localhost (localhost [127.0.0.1]) by EXCH01.corp.local with ESMTP" + date,
				"from cgnat.example (unknown [100.64.1.1]) by localhost with ESMTP" + date,
				"from doc.example (unknown [192.0.2.1]) by cgnat.example with ESMTP" + date,
				"from mail.example.net (mail.example.net [203.0.113.5]) by doc.example with ESMTP" + date,
				"from spammer.example ([91.198.174.192] helo=spammer.example) by mail.example.net with esmtp (Exim 4.96)" + date,
			},
			wantIP: "91.198.174.192", wantHop: 5, reason: "first-untrusted-hop",
		},
		{
			name: "hops without address skipped",
			received: []string{
				"from localhost by mx.example.org with LMTP" + date,
				"(qmail 12345 invoked from network)" + date,
				"from unknown (HELO spammer) (91.198.174.192) by mx.example.org with SMTP" + date,
			},
			wantIP: "91.198.174.192", wantHop: 2, reason: "first-untrusted-hop",
		},
		{
			name: "IPv6",
			received: []string{
				"from relay.example.org (relay.example.org [IPv6:2a01:4f8:1::25]) by mx.example.org (Postfix) with ESMTPS id A" + date,
				"from mail-ej1-x62a.google.com (mail-ej1-x62a.google.com [IPv6:2a00:1450:4864:20::62a]) by relay.example.org (Postfix) with ESMTPS id B" + date,
			},
			wantIP: "2a00:1450:4864:20::62a", wantHop: 1, reason: "first-untrusted-hop",
		},
		{
			name:     "IPv4-mapped IPv6 is unmapped",
			received: []string{"from sender.example.net (sender.example.net [IPv6:::ffff:40.107.22.101]) by mx.example.org (Postfix) with ESMTP id A" + date},
			wantIP:   "40.107.22.101", wantHop: 0, reason: "first-untrusted-hop",
		},
		{
			name: "forged Received headers below the source are ignored",
			received: []string{
				"from spammer.example (unknown [91.198.174.192]) by mx.example.org (Postfix) with SMTP id A" + date,
				"from mail.google.com (mail.google.com [209.85.220.41]) by spammer.example with ESMTP id FORGED" + date,
				"from trusted.example (trusted.example [185.199.108.10]) by mail.google.com with ESMTP id FORGED" + date,
			},
			wantIP: "91.198.174.192", wantHop: 0, reason: "first-untrusted-hop",
		},
		{
			name: "only trusted hops",
			received: []string{
				"from relay2.example.org (relay2.example.org [185.199.108.11]) by mx.example.org (Postfix) with ESMTP id A" + date,
				"from app.internal (app.internal [10.1.2.3]) by relay2.example.org (Postfix) with ESMTP id B" + date,
				"from localhost by app.internal with local" + date,
			},
			wantHop: -1, reason: "only-trusted-hops",
		},
		{
			name: "no address in any hop",
			received: []string{
				"from localhost by mx.example.org with LMTP" + date,
				"(qmail 12345 invoked by uid 89)" + date,
			},
			wantHop: -1, reason: "no-ip-in-hop",
		},
		{name: "no Received", wantHop: -1, reason: "no-received"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hops []Hop
			for i, value := range tt.received {
				hop := ParseReceived(value)
				hop.Index = i
				hops = append(hops, hop)
			}
			got := FindSource(hops, trusted)
			var wantIP netip.Addr
			if tt.wantIP != "" {
				wantIP = netip.MustParseAddr(tt.wantIP)
			}
			if got.IP != wantIP || got.Hop != tt.wantHop || got.Reason != tt.reason {
				t.Errorf("got %v hop %d %q, want %v hop %d %q", got.IP, got.Hop, got.Reason, wantIP, tt.wantHop, tt.reason)
			}
			wantHeader := ""
			if tt.wantHop >= 0 {
				wantHeader = hops[tt.wantHop].Raw
			}
			if got.Header != wantHeader {
				t.Errorf("header %q, want %q", got.Header, wantHeader)
			}
		})
	}
}

func TestIsPublic(t *testing.T) {
	tests := []struct {
		addr   string
		public bool
	}{
		{"209.85.220.41", true},
		{"40.107.22.101", true},
		{"1.1.1.1", true},
		{"::ffff:91.198.174.192", true},
		{"2a00:1450:4864:20::62a", true},
		{"2603:10a6:208:ee::15", true},
		{"10.0.0.5", false},
		{"172.16.4.4", false},
		{"192.168.1.1", false},
		{"127.0.0.1", false},
		{"169.254.1.1", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"100.64.1.1", false},
		{"100.127.255.254", false},
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"198.18.0.1", false},
		{"198.51.100.7", false},
		{"203.0.113.5", false},
		{"224.0.0.1", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},
		{"::ffff:10.0.0.1", false},
		{"::", false},
		{"::1", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"ff02::1", false},
		{"2001:db8::1", false},
		{"2001::1", false}, // Teredo
		{"3fff::1", false},
		{"64:ff9b::1.2.3.4", false},
		{"100::1", false},
		{"::1.2.3.4", false},
	}
	for _, tt := range tests {
		if got := IsPublic(netip.MustParseAddr(tt.addr)); got != tt.public {
			t.Errorf("IsPublic(%s) = %v, want %v", tt.addr, got, tt.public)
		}
	}
	if IsPublic(netip.Addr{}) {
		t.Error("IsPublic(zero Addr) = true")
	}
}
