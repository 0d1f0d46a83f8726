package qq

import "strconv"

// androidComm builds the Android comm object for the device and
// credential, its keys in the reference's order (CommonParams as it
// declares them; unset ones left out).
func androidComm(d *Device, cred *Credential) Object {
	var qq, authst, uid, sid any
	var loginType any
	if cred != nil {
		if cred.MusicID != 0 {
			qq = strconv.FormatInt(cred.MusicID, 10)
		}
		if cred.MusicKey != "" {
			authst = cred.MusicKey
		}
		if cred.LoginType != 0 {
			loginType = cred.LoginType
		}
	}
	if d.SessionUID != nil {
		uid = *d.SessionUID
	}
	if d.SessionSID != nil {
		sid = *d.SessionSID
	}
	all := Object{
		{"ct", AndroidCT},
		{"cv", AndroidCV},
		{"v", AndroidCV},
		{"tmeAppID", "qqmusic"},
		{"chid", AndroidChannel},
		{"qq", qq},
		{"authst", authst},
		{"tmeLoginType", loginType},
		{"QIMEI", deref(d.QIMEI)},
		{"QIMEI36", deref(d.QIMEI36)},
		{"OpenUDID", d.OpenUDID},
		{"OpenUDID2", d.OpenUDID},
		{"udid", d.OpenUDID},
		{"aid", d.AndroidID},
		{"uid", uid},
		{"sid", sid},
		{"os_ver", d.Version.Release},
		{"phonetype", d.Model},
		{"devicelevel", strconv.Itoa(d.Version.SDK)},
		{"newdevicelevel", strconv.Itoa(d.Version.SDK)},
		{"rom", d.Fingerprint},
	}
	m := make(Object, 0, len(all))
	for _, f := range all {
		if f.Value != nil {
			m = append(m, f)
		}
	}
	return m
}

// boolsToInts returns v with every bool inside maps and slices replaced by
// 0 or 1.
func boolsToInts(v any) any {
	switch x := v.(type) {
	case bool:
		if x {
			return 1
		}
		return 0
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = boolsToInts(e)
		}
		return m
	case Object:
		o := make(Object, len(x))
		for i, f := range x {
			o[i] = Field{f.Key, boolsToInts(f.Value)}
		}
		return o
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = boolsToInts(e)
		}
		return s
	case []bool:
		s := make([]int, len(x))
		for i, e := range x {
			if e {
				s[i] = 1
			}
		}
		return s
	case map[string]bool:
		m := make(map[string]int, len(x))
		for k, e := range x {
			if e {
				m[k] = 1
			} else {
				m[k] = 0
			}
		}
		return m
	}
	return v
}
